"""Registration rules: which client metadata (RFC 7591 section 2) we accept.

Redirect URIs follow oauth_app.redirect_uris, the rule the authorization endpoint applies too.
django-oauth-toolkit 3.4.1 answers `client_secret_basic` whatever was asked; these rules honour the
request or refuse it. Metadata holding a string that cannot be stored (NUL, a lone surrogate) is
refused whole; the client name is kept as it may be shown (oauth_app.text.display_name).
"""

import json
from dataclasses import dataclass, field

from django.conf import settings
from django.http import JsonResponse

from oauth_app.capabilities import AUTHORIZATION_CODE, GRANT_TYPES, RESPONSE_TYPES
from oauth_app.models import TokenEndpointAuthMethod
from oauth_app.redirect_uris import MAX_URI_LENGTH, redirect_uri_problem
from oauth_app.text import display_name, unstorable_reason

MAX_METADATA_BYTES = 64 * 1024
MAX_REDIRECT_URIS = 20
SUPPORTED_GRANT_TYPES = set(GRANT_TYPES)
# Optional RFC 7591 fields we keep (as given, when of the right type); other unknown fields are ignored.
OPTIONAL_STRING_FIELDS = ("client_uri", "logo_uri", "tos_uri", "policy_uri", "software_id", "software_version")


class RegistrationError(Exception):
    """A refused registration request, rendered as RFC 7591 section 3.2.2 error JSON."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> JsonResponse:
        response = JsonResponse({"error": self.error, "error_description": self.description}, status=self.status)
        if self.status == 401:
            # RFC 6750 section 3: a 401 on a bearer-protected endpoint carries the challenge.
            quoted = self.description.encode("ascii", "replace").decode().replace('"', "'")
            response["WWW-Authenticate"] = f'Bearer error="{self.error}", error_description="{quoted}"'
        response["Cache-Control"] = "no-store"
        return response


def invalid_metadata(description: str) -> RegistrationError:
    return RegistrationError("invalid_client_metadata", description)


def invalid_redirect_uri(uri: str, why: str) -> RegistrationError:
    shown = uri if len(uri) <= 200 else uri[:200] + "…"
    return RegistrationError("invalid_redirect_uri", f"redirect URI {shown!r} refused: {why}")


def check_redirect_uri(uri) -> str:
    """Return the URI unchanged when acceptable; raise RegistrationError(invalid_redirect_uri) otherwise."""
    problem = redirect_uri_problem(uri)
    if problem is None:
        return uri
    if not isinstance(uri, str) or not uri:
        raise RegistrationError("invalid_redirect_uri", problem)
    raise invalid_redirect_uri(uri, problem)


@dataclass(frozen=True)
class ClientMetadata:
    """Validated RFC 7591 client metadata, normalised; `as_dict()` is what we store and answer."""

    redirect_uris: list[str]
    token_endpoint_auth_method: str = TokenEndpointAuthMethod.CLIENT_SECRET_BASIC
    grant_types: list[str] = field(default_factory=lambda: list(GRANT_TYPES))
    response_types: list[str] = field(default_factory=lambda: list(RESPONSE_TYPES))
    client_name: str = ""
    scope: str = ""
    application_type: str = "web"
    extra: dict = field(default_factory=dict)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == TokenEndpointAuthMethod.NONE

    def as_dict(self) -> dict:
        data = {
            "redirect_uris": list(self.redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "grant_types": list(self.grant_types),
            "response_types": list(self.response_types),
            "client_name": self.client_name,
            "scope": self.scope,
            "application_type": self.application_type,
            **self.extra,
        }
        return data


def _string_list(data: dict, name: str, default: list[str]) -> list[str]:
    value = data.get(name)
    if value is None:  # absent or null: SDKs serialise unset fields as null
        return default
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid_metadata(f"{name} must be an array of strings")
    return value


def _string(data: dict, name: str, default: str = "", max_length: int = 255) -> str:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise invalid_metadata(f"{name} must be a string")
    if len(value) > max_length:
        raise invalid_metadata(f"{name} must be at most {max_length} characters")
    return value


def registered_scope(scope: str) -> str:
    """The scopes we serve among those requested; none requested (or none known) means the defaults.

    Unknown scopes are dropped rather than refused: RFC 7591 section 2 lets the server replace requested
    values, and the response tells the client what it got.
    """
    known = [name for name in scope.split() if name in settings.OAUTH_SCOPES]
    return " ".join(dict.fromkeys(known or settings.OAUTH_DEFAULT_SCOPES))


def client_metadata_from_dict(data) -> ClientMetadata:
    """Validate RFC 7591 client metadata; raise RegistrationError with a description of the first problem."""
    if not isinstance(data, dict):
        raise invalid_metadata("the request body must be a JSON object")
    problem = unstorable_reason(data)
    if problem:
        raise invalid_metadata(f"a string in the client metadata {problem}")

    redirect_uris = _string_list(data, "redirect_uris", [])
    if not redirect_uris:
        raise RegistrationError("invalid_redirect_uri", "redirect_uris is required for the authorization_code grant")
    if len(redirect_uris) > MAX_REDIRECT_URIS:
        raise RegistrationError("invalid_redirect_uri", f"at most {MAX_REDIRECT_URIS} redirect URIs")
    redirect_uris = list(dict.fromkeys(check_redirect_uri(uri) for uri in redirect_uris))

    auth_method = _string(data, "token_endpoint_auth_method", TokenEndpointAuthMethod.CLIENT_SECRET_BASIC)
    if auth_method not in TokenEndpointAuthMethod.values:
        raise invalid_metadata(
            f"unsupported token_endpoint_auth_method {auth_method!r}; "
            f"supported: {', '.join(TokenEndpointAuthMethod.values)}"
        )

    grant_types = _string_list(data, "grant_types", list(GRANT_TYPES))
    unsupported = [grant for grant in grant_types if grant not in SUPPORTED_GRANT_TYPES]
    if unsupported:
        raise invalid_metadata(f"unsupported grant_types {unsupported}; supported: {', '.join(GRANT_TYPES)}")
    if AUTHORIZATION_CODE not in grant_types:
        raise invalid_metadata("grant_types must include authorization_code")

    response_types = _string_list(data, "response_types", list(RESPONSE_TYPES))
    if set(response_types) != set(RESPONSE_TYPES):
        raise invalid_metadata(f"response_types must be {json.dumps(list(RESPONSE_TYPES))}")

    application_type = _string(data, "application_type", "web")
    if application_type not in ("web", "native"):
        raise invalid_metadata("application_type must be web or native")

    extra = {name: _string(data, name, max_length=MAX_URI_LENGTH)
             for name in OPTIONAL_STRING_FIELDS if data.get(name) is not None}
    if data.get("contacts") is not None:
        extra["contacts"] = _string_list(data, "contacts", [])

    return ClientMetadata(
        redirect_uris=redirect_uris,
        token_endpoint_auth_method=auth_method,
        grant_types=list(dict.fromkeys(grant_types)),
        response_types=list(RESPONSE_TYPES),
        client_name=display_name(_string(data, "client_name")),
        scope=registered_scope(_string(data, "scope", max_length=1000)),
        application_type=application_type,
        extra=extra,
    )


def json_body(body: bytes):
    if len(body) > MAX_METADATA_BYTES:
        raise invalid_metadata(f"the request body must be at most {MAX_METADATA_BYTES} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: hostile nesting depth
        raise invalid_metadata("the request body must be valid JSON") from None


def client_metadata_from_json(body: bytes) -> ClientMetadata:
    return client_metadata_from_dict(json_body(body))
