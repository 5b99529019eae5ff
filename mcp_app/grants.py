"""Granting and revoking access to tools, prompts and resources (the services behind the commands and the
admin; the decisions are mcp_app.policy's). Every change bumps the policy version through the model signals."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from oauth2_provider.models import get_application_model

from mcp_app.models import AccessGrant, ItemKind
from mcp_app.registry import served_registry


class GrantError(ValueError):
    """The item or the grantee does not exist (the message says which)."""


def registered_item(kind: str, name: str, registry=None):
    registry = registry or served_registry()
    if kind == ItemKind.TOOL:
        return registry.tools.get(name)
    if kind == ItemKind.PROMPT:
        return registry.prompts.get(name)
    return registry.resources.get(name) or registry.templates.get(name)


def grantee(*, group: str | None = None, user: str | None = None, client: str | None = None) -> dict:
    """The grant's one grantee as model fields, looked up by group name, username or client_id."""
    if sum(value is not None for value in (group, user, client)) != 1:
        raise GrantError("name exactly one of a group, a user or a client")
    try:
        if group is not None:
            return {"group": Group.objects.get(name=group)}
        if user is not None:
            return {"user": get_user_model().objects.get_by_natural_key(user)}
        return {"client": get_application_model().objects.get(client_id=client)}
    except (Group.DoesNotExist, get_user_model().DoesNotExist, get_application_model().DoesNotExist):
        raise GrantError(f"no such {'group' if group else 'user' if user else 'client'}: "
                         f"{group or user or client}") from None


@transaction.atomic
def grant_create(*, kind: str, name: str, registry=None, **who) -> tuple[AccessGrant, bool]:
    """Open the item to the grantee; (grant, created). Only registered items can be granted (typos fail)."""
    if kind not in ItemKind.values:
        raise GrantError(f"kind must be one of {', '.join(ItemKind.values)}")
    if registered_item(kind, name, registry) is None:
        raise GrantError(f"no {kind} named {name!r} is registered")
    return AccessGrant.objects.get_or_create(kind=kind, name=name, **grantee(**who))


@transaction.atomic
def grant_delete(*, kind: str, name: str, **who) -> int:
    deleted, _ = AccessGrant.objects.filter(kind=kind, name=name, **grantee(**who)).delete()
    return deleted


@dataclass
class ItemAccess:
    kind: str
    name: str
    source: str  # "grants", "code" or "default"
    grantees: list[str]


def access_table(registry=None) -> list[ItemAccess]:
    """Every registered item and who may use it, as the policy decides (grants replace code defaults)."""
    from django.conf import settings

    grants: dict[tuple[str, str], list[str]] = {}
    for grant in AccessGrant.objects.select_related("group", "user", "client"):
        grants.setdefault((grant.kind, grant.name), []).append(grant.grantee)
    registry = registry or served_registry()
    items = [(ItemKind.TOOL, key, item) for key, item in registry.tools.items()]
    items += [(ItemKind.PROMPT, key, item) for key, item in registry.prompts.items()]
    items += [(ItemKind.RESOURCE, key, item) for key, item in {**registry.resources, **registry.templates}.items()]
    table = []
    for kind, key, item in sorted(items, key=lambda entry: (entry[0], entry[1])):
        if (kind, key) in grants:
            table.append(ItemAccess(kind, key, "grants", sorted(grants.pop((kind, key)))))
        elif item.groups:
            table.append(ItemAccess(kind, key, "code", [f"group {name}" for name in item.groups]))
        else:
            everyone = "every signed-in user" if settings.MCP_TOOL_ACCESS_DEFAULT == "allow" else "superusers only"
            table.append(ItemAccess(kind, key, "default", [everyone]))
    for (kind, key), names in sorted(grants.items()):  # grants of items no longer registered
        table.append(ItemAccess(kind, key, "grants (not registered)", sorted(names)))
    return table
