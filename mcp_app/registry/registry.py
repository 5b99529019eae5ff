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
from mcp_app.registry.items import Prompt, Resource, ResourceTemplate, Tool
from mcp_app.registry.parameter_headers import check_header_parameters
from mcp_app.registry.signatures import Function, description_of, output_of

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")  # 2025-11-25 tool name guidance
TASK_SUPPORT = (None, "optional", "required")  # execution.taskSupport; None is the spec's "forbidden"
LIST_KEYS = {"tools": "tools", "resources": "resources", "templates": "resourceTemplates", "prompts": "prompts"}


class Registry:
    def __init__(self):
        self.tools: dict[str, Tool] = {}
        self.resources: dict[str, Resource] = {}
        self.templates: dict[str, ResourceTemplate] = {}
        self.prompts: dict[str, Prompt] = {}
        self._descriptors: dict[tuple[str, bool], list[dict]] = {}
        self._pages: dict[tuple[str, int, int, bool], dict] = {}

    # Decorators -----------------------------------------------------------------------------------
    def tool(self, fn=None, *, name=None, title=None, description=None, annotations=None, scope=None, meta=None,
             input_schema=None, task_support=None, task_launcher=False):
        """Register a function as a tool. `annotations` are MCP ToolAnnotations (readOnlyHint, …);
        `input_schema` replaces the schema of the parameters in tools/list (they still validate);
        `task_support` ("optional" or "required") lets a call run as a task (docs/tools.md)."""

        def register(fn):
            tool_name = name or fn.__name__
            if not TOOL_NAME.match(tool_name):
                raise ImproperlyConfigured(f"tool name {tool_name!r} must match {TOOL_NAME.pattern}")
            if task_support not in TASK_SUPPORT or (task_launcher and not task_support):
                raise ImproperlyConfigured(f"tool {tool_name!r}: task_support must be one of \"optional\", "
                                           "\"required\" or None, and a task_launcher needs it")
            item = Tool(
                function=Function.of(fn, tool_name), name=tool_name, description=description_of(fn, description),
                title=title, annotations=annotations, scope=scope, output=output_of(fn), meta=meta,
                schema=input_schema, task_support=task_support, task_launcher=task_launcher,
            )
            check_header_parameters(tool_name, item.input_schema)
            self._add(self.tools, tool_name, item)
            return fn

        return register(fn) if fn is not None else register

    def resource(self, uri, *, name=None, title=None, description=None, mime_type="text/plain", scope=None):
        def register(fn):
            resource_name = name or fn.__name__
            self._add(self.resources, uri, Resource(
                uri=uri, name=resource_name, function=Function.of(fn, resource_name),
                description=description_of(fn, description), title=title, mime_type=mime_type, scope=scope,
            ))
            return fn

        return register

    def resource_template(self, uri_template, *, name=None, title=None, description=None, mime_type="text/plain",
                          scope=None, completions=None):
        """`completions` maps a template variable to `fn(value, arguments) -> list[str]` (completion/complete)."""

        def register(fn):
            template_name = name or fn.__name__
            self._add(self.templates, uri_template, ResourceTemplate(
                uri_template=uri_template, name=template_name, function=Function.of(fn, template_name),
                description=description_of(fn, description), title=title, mime_type=mime_type, scope=scope,
                completions=dict(completions or {}),
            ))
            return fn

        return register

    def prompt(self, fn=None, *, name=None, title=None, description=None, scope=None, completions=None):
        def register(fn):
            prompt_name = name or fn.__name__
            self._add(self.prompts, prompt_name, Prompt(
                name=prompt_name, function=Function.of(fn, prompt_name), description=description_of(fn, description),
                title=title, scope=scope, completions=dict(completions or {}),
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

    def page(self, kind: str, cursor: str | None, page_size: int, dialect: bool = False) -> dict:
        """One page of a list result, `kind` in LIST_KEYS; stable order (by name or URI). `dialect`: tool
        schemas name their JSON Schema dialect (2026-07-28)."""
        offset = decode_cursor(cursor)
        dialect = dialect and kind == "tools"
        key = (kind, offset, page_size, dialect)
        if key not in self._pages:
            items = self.descriptors(kind, dialect)
            if offset > len(items):
                raise JsonRpcError(INVALID_PARAMS, "Invalid cursor")
            page: dict[str, Any] = {LIST_KEYS[kind]: items[offset: offset + page_size]}
            if offset + page_size < len(items):
                page["nextCursor"] = encode_cursor(offset + page_size)
            self._pages[key] = page
        return self._pages[key]

    def descriptors(self, kind: str, dialect: bool = False) -> list[dict]:
        key = (kind, dialect)
        if key not in self._descriptors:
            table = {"tools": self.tools, "resources": self.resources, "templates": self.templates,
                     "prompts": self.prompts}[kind]
            self._descriptors[key] = [
                table[name].descriptor(dialect=True) if dialect else table[name].descriptor() for name in sorted(table)
            ]
        return self._descriptors[key]


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
