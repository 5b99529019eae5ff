"""The registry of tools, resources, resource templates and prompts, filled by decorators at import time.

Descriptors and list pages are computed once per process (the registry only grows at start-up).
"""

import functools
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from mcp_app.jsonrpc import INVALID_PARAMS, JsonRpcError
from mcp_app.registry.cursors import decode_cursor, encode_cursor
from mcp_app.registry.items import Prompt, RateLimit, Resource, ResourceTemplate, Tool
from mcp_app.registry.parameter_headers import check_header_parameters
from mcp_app.registry.signatures import Function, description_of, output_of

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")  # 2025-11-25 tool name guidance
TASK_SUPPORT = (None, "optional", "required")  # execution.taskSupport; None is the spec's "forbidden"
MAX_CACHED_PAGES = 4096
LIST_KEYS = {"tools": "tools", "resources": "resources", "templates": "resourceTemplates", "prompts": "prompts"}


class Registry:
    def __init__(self):
        self.tools: dict[str, Tool] = {}
        self.resources: dict[str, Resource] = {}
        self.templates: dict[str, ResourceTemplate] = {}
        self.prompts: dict[str, Prompt] = {}
        self._descriptors: dict[tuple[str, bool], list[tuple[str, dict]]] = {}
        self._pages: dict[tuple, dict] = {}

    # Decorators -----------------------------------------------------------------------------------
    def tool(self, fn=None, *, name=None, title=None, description=None, annotations=None, scope=None, meta=None,
             input_schema=None, task_support=None, task_launcher=False, groups=(), audit_arguments=False,
             rate_limit=None):
        """Register a function as a tool. `annotations` are MCP ToolAnnotations (readOnlyHint, …);
        `input_schema` replaces the schema of the parameters in tools/list (they still validate);
        `task_support` ("optional" or "required") lets a call run as a task (docs/tools.md); `groups` the
        groups it is open to until the admin grants it otherwise (docs/access.md); `rate_limit` like "10/m"
        per (client, user); `audit_arguments` keeps its arguments in the audit trail, secrets redacted."""

        def register(fn):
            tool_name = name or fn.__name__
            if not TOOL_NAME.match(tool_name):
                raise ImproperlyConfigured(f"tool name {tool_name!r} must match {TOOL_NAME.pattern}")
            if task_support not in TASK_SUPPORT or (task_launcher and not task_support):
                raise ImproperlyConfigured(f"tool {tool_name!r}: task_support must be one of \"optional\", "
                                           "\"required\" or None, and a task_launcher needs it")
            try:
                limit = RateLimit.parse(rate_limit) if rate_limit else None
            except ValueError as exc:
                raise ImproperlyConfigured(f"tool {tool_name!r}: {exc}") from None
            item = Tool(
                function=Function.of(fn, tool_name), name=tool_name, description=description_of(fn, description),
                title=title, annotations=annotations, scope=scope, output=output_of(fn), meta=meta,
                schema=input_schema, task_support=task_support, task_launcher=task_launcher,
                groups=tuple(groups), audit_arguments=audit_arguments, rate_limit=limit,
            )
            check_header_parameters(tool_name, item.input_schema)
            self._add(self.tools, tool_name, item)
            return fn

        return register(fn) if fn is not None else register

    def resource(self, uri, *, name=None, title=None, description=None, mime_type="text/plain", scope=None,
                 groups=()):
        def register(fn):
            resource_name = name or fn.__name__
            self._add(self.resources, uri, Resource(
                uri=uri, name=resource_name, function=Function.of(fn, resource_name),
                description=description_of(fn, description), title=title, mime_type=mime_type, scope=scope,
                groups=tuple(groups),
            ))
            return fn

        return register

    def resource_template(self, uri_template, *, name=None, title=None, description=None, mime_type="text/plain",
                          scope=None, completions=None, groups=()):
        """`completions` maps a template variable to `fn(value, arguments) -> list[str]` (completion/complete)."""

        def register(fn):
            template_name = name or fn.__name__
            self._add(self.templates, uri_template, ResourceTemplate(
                uri_template=uri_template, name=template_name, function=Function.of(fn, template_name),
                description=description_of(fn, description), title=title, mime_type=mime_type, scope=scope,
                completions=dict(completions or {}), groups=tuple(groups),
            ))
            return fn

        return register

    def prompt(self, fn=None, *, name=None, title=None, description=None, scope=None, completions=None, groups=()):
        def register(fn):
            prompt_name = name or fn.__name__
            self._add(self.prompts, prompt_name, Prompt(
                name=prompt_name, function=Function.of(fn, prompt_name), description=description_of(fn, description),
                title=title, scope=scope, completions=dict(completions or {}), groups=tuple(groups),
            ))
            return fn

        return register(fn) if fn is not None else register

    def include(self, other: "Registry") -> None:
        """Serve `other`'s items too, as they are now (a name both hold is an error, as within one registry)."""
        for table, items in zip(self._tables(), other._tables()):
            for key, item in items.items():
                self._add(table, key, item)

    def _tables(self) -> tuple[dict, ...]:
        return self.tools, self.resources, self.templates, self.prompts

    def _add(self, table: dict, key: str, item: Any) -> None:
        if key in table:
            raise ImproperlyConfigured(f"{key!r} is registered twice")
        table[key] = item
        self._descriptors.clear()
        self._pages.clear()

    # Lookups --------------------------------------------------------------------------------------
    def find_resource(self, uri: str) -> tuple[Resource | ResourceTemplate, dict] | None:
        if uri in self.resources:
            return self.resources[uri], {}
        for template in self.templates.values():
            match = template.pattern.match(uri)
            if match:
                return template, match.groupdict()
        return None

    def page(self, kind: str, cursor: str | None, page_size: int, dialect: bool = False,
             visible: frozenset | None = None) -> dict:
        """One page of a list result, `kind` in LIST_KEYS; stable order (by name or URI). `dialect`: tool
        schemas name their JSON Schema dialect (2026-07-28). `visible`: the keys the caller may see
        (mcp_app.policy), None for all. Pages are cached per visible set, which the policy version and the
        caller's groups decide, so callers with the same access share them."""
        offset = decode_cursor(cursor)
        dialect = dialect and kind == "tools"
        key = (kind, visible, offset, page_size, dialect)
        if key not in self._pages:
            items = self.descriptors(kind, visible, dialect)
            if offset > len(items):
                raise JsonRpcError(INVALID_PARAMS, "Invalid cursor")
            page: dict[str, Any] = {LIST_KEYS[kind]: items[offset: offset + page_size]}
            if offset + page_size < len(items):
                page["nextCursor"] = encode_cursor(offset + page_size)
            if len(self._pages) >= MAX_CACHED_PAGES:  # many distinct visible sets: start again
                self._pages.clear()
            self._pages[key] = page
        return self._pages[key]

    def table(self, kind: str) -> dict:
        return {"tools": self.tools, "resources": self.resources, "templates": self.templates,
                "prompts": self.prompts}[kind]

    def descriptors(self, kind: str, visible: frozenset | None = None, dialect: bool = False) -> list[dict]:
        if (kind, dialect) not in self._descriptors:
            table = self.table(kind)
            self._descriptors[(kind, dialect)] = [
                (key, table[key].descriptor(dialect=True) if dialect else table[key].descriptor()) for key in sorted(table)
            ]
        return [descriptor for key, descriptor in self._descriptors[(kind, dialect)] if visible is None or key in visible]


# The product's registry: tool modules (settings.MCP_TOOL_MODULES) fill it through these decorators.
registry = Registry()
tool = registry.tool
resource = registry.resource
resource_template = registry.resource_template
prompt = registry.prompt


def served_registry() -> Registry:
    """The registry /mcp answers from: settings.MCP_REGISTRY, the product's own unless the tests name theirs."""
    return _imported(settings.MCP_REGISTRY)


@functools.cache
def _imported(path: str) -> Registry:
    return import_string(path)
