"""The registry of tools, resources, resource templates and prompts, filled by decorators at import time.

A tool is one typed function: the inputSchema comes from its parameters, the outputSchema from its
return type (pydantic), the description from its docstring. Modules listed in settings.MCP_TOOL_MODULES
are imported at start-up (see `apps.py`); see docs/tools.md.

    @tool(scope="mcp:tools")
    def echo(message: str) -> str:
        \"\"\"Echoes back the provided message.\"\"\"
        return f"Echo: {message}"

Descriptors and list pages are computed once per process (the registry only grows at start-up).
"""

import base64
import inspect
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin, get_type_hints

import pydantic
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured

from mcp_app.context import Context, ToolError
from mcp_app.jsonrpc import INVALID_PARAMS, JsonRpcError
from common.logging import current_request_id

logger = logging.getLogger(__name__)

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")  # 2025-11-25 tool name guidance


# --- Content blocks ---------------------------------------------------------------------------------
class Content(dict):
    """A content block (text, image, audio, resource link, embedded resource), built by the helpers below."""


def text(value: str) -> Content:
    return Content(type="text", text=value)


def image(data: bytes | str, mime_type: str) -> Content:
    return Content(type="image", data=as_base64(data), mimeType=mime_type)


def audio(data: bytes | str, mime_type: str) -> Content:
    return Content(type="audio", data=as_base64(data), mimeType=mime_type)


def resource_link(uri: str, name: str, **fields: Any) -> Content:
    return Content(type="resource_link", uri=uri, name=name, **fields)


def embedded_resource(uri: str, *, text: str | None = None, blob: bytes | None = None, mime_type: str = "") -> Content:
    return Content(type="resource", resource=resource_contents(uri, text if blob is None else blob, mime_type))


def as_base64(data: bytes | str) -> str:
    return data if isinstance(data, str) else base64.b64encode(data).decode()


def resource_contents(uri: str, value: str | bytes, mime_type: str = "") -> dict:
    contents: dict[str, Any] = {"uri": uri}
    if mime_type:
        contents["mimeType"] = mime_type
    if isinstance(value, bytes):
        contents["blob"] = base64.b64encode(value).decode()
    else:
        contents["text"] = value
    return contents


@dataclass
class ToolResult:
    """Full control over a tools/call result; a tool may return this instead of a plain value."""

    content: list[Content] = field(default_factory=list)
    structured_content: Any = None
    is_error: bool = False

    def as_result(self) -> dict:
        result: dict[str, Any] = {"content": list(self.content)}
        if self.structured_content is not None:
            result["structuredContent"] = self.structured_content
        if self.is_error:
            result["isError"] = True
        return result


def error_result(message: str) -> dict:
    return {"content": [text(message)], "isError": True}


# --- Signatures to schemas ------------------------------------------------------------------------
def context_parameter(fn: Callable, hints: dict) -> str | None:
    for name, hint in hints.items():
        if hint is Context or (get_origin(hint) is not None and Context in get_args(hint)):
            return name
    return None


def arguments_model(fn: Callable, name: str, hints: dict, skip: str | None) -> type[pydantic.BaseModel]:
    """A pydantic model of the function's parameters (the Context parameter left out)."""
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.name == skip:
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ImproperlyConfigured(f"{name}: *args/**kwargs cannot be described by a schema")
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hints.get(parameter.name, Any), default)
    config = pydantic.ConfigDict(extra="forbid")
    return pydantic.create_model(f"{name}_arguments", __config__=config, **fields)


def input_schema(model: type[pydantic.BaseModel]) -> dict:
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema.setdefault("properties", {})
    return schema


PASSTHROUGH_RETURNS = (Content, ToolResult)


def output_adapter(hints: dict) -> tuple[pydantic.TypeAdapter | None, dict | None, bool]:
    """(adapter, outputSchema, wrapped) for the return type. Text and content returns have no schema;
    a non-object type is wrapped as {"result": value}, since structuredContent is an object."""
    returns = hints.get("return", inspect.Signature.empty)
    origin_args = get_args(returns) if get_origin(returns) in (list, tuple) else ()
    if returns in (inspect.Signature.empty, None, type(None), str, Any) or returns in PASSTHROUGH_RETURNS:
        return None, None, False
    if origin_args and all(arg in PASSTHROUGH_RETURNS for arg in origin_args):
        return None, None, False
    adapter = pydantic.TypeAdapter(returns)
    schema = adapter.json_schema(mode="serialization")
    schema.pop("title", None)
    if schema.get("type") == "object":
        return adapter, schema, False
    defs = schema.pop("$defs", None)
    wrapped = {"type": "object", "properties": {"result": schema}, "required": ["result"]}
    if defs:
        wrapped["$defs"] = defs
    return adapter, wrapped, True


class ResourceNotFound(Exception):
    """Raise in a resource function when the URI names nothing (answered as "Resource not found")."""


class InvalidArguments(Exception):
    """Arguments do not match the schema; the message says which and why (safe to show)."""


def validation_message(what: str, error: pydantic.ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'arguments'}: {item['msg']}" for item in error.errors()
    )
    return f"Invalid arguments for {what}: {problems}"


def call_function(fn: Callable, arguments: dict) -> Any:
    if inspect.iscoroutinefunction(fn):
        return async_to_sync(fn)(**arguments)
    return fn(**arguments)


def description_of(fn: Callable, description: str | None) -> str:
    return description if description is not None else inspect.cleandoc(fn.__doc__ or "")


# --- Registered things ----------------------------------------------------------------------------
@dataclass
class Function:
    """What tools, resource templates and prompts share: a function, its arguments model, a Context slot."""

    fn: Callable
    name: str
    arguments: type[pydantic.BaseModel]
    context_name: str | None

    @classmethod
    def of(cls, fn: Callable, name: str) -> "Function":
        hints = get_type_hints(fn, include_extras=True)
        context_name = context_parameter(fn, hints)
        return cls(fn, name, arguments_model(fn, name, hints, context_name), context_name)

    def validate(self, arguments: dict, what: str) -> dict:
        try:
            validated = self.arguments.model_validate(arguments)
        except pydantic.ValidationError as exc:
            raise InvalidArguments(validation_message(what, exc)) from None
        return dict(validated)  # field name → validated value

    def call(self, arguments: dict, context: Context) -> Any:
        if self.context_name:
            arguments = {**arguments, self.context_name: context}
        return call_function(self.fn, arguments)


@dataclass
class Tool:
    function: Function
    name: str
    description: str
    title: str | None = None
    annotations: dict | None = None
    scope: str | None = None
    output: pydantic.TypeAdapter | None = None
    output_schema: dict | None = None
    wrap_output: bool = False
    meta: dict | None = None

    @property
    def uses_context(self) -> bool:
        return self.function.context_name is not None

    def descriptor(self) -> dict:
        descriptor: dict[str, Any] = {"name": self.name}
        if self.title:
            descriptor["title"] = self.title
        descriptor["description"] = self.description
        descriptor["inputSchema"] = input_schema(self.function.arguments)
        if self.output_schema:
            descriptor["outputSchema"] = self.output_schema
        if self.annotations:
            descriptor["annotations"] = self.annotations
        if self.meta:
            descriptor["_meta"] = self.meta
        return descriptor

    def call(self, arguments: dict, context: Context) -> dict:
        """Run the tool. Bad arguments and failures become `isError` results (failures are logged here)."""
        try:
            value = self.function.call(self.function.validate(arguments, f"tool '{self.name}'"), context)
        except (InvalidArguments, ToolError) as exc:
            return error_result(str(exc))
        except Exception as exc:
            return self.failure(exc)
        return self.to_result(value)

    def failure(self, exc: Exception) -> dict:
        logger.exception("tool %s failed (request id %s)", self.name, current_request_id(), exc_info=exc)
        return error_result(
            f"Tool '{self.name}' failed with an internal error (request id {current_request_id()}). "
            "The server log has the details."
        )

    def to_result(self, value: Any) -> dict:
        if isinstance(value, ToolResult):
            return value.as_result()
        if isinstance(value, Content):
            return {"content": [value]}
        if isinstance(value, (list, tuple)) and value and all(isinstance(item, Content) for item in value):
            return {"content": list(value)}
        if self.output is None:
            return {"content": [text(value if isinstance(value, str) else json.dumps(value, default=str))]}
        structured = self.output.dump_python(value, mode="json")
        if self.wrap_output:
            structured = {"result": structured}
        # Clients without outputSchema support read the text block: mirror the structured value there.
        return {"content": [text(json.dumps(structured, ensure_ascii=False))], "structuredContent": structured}


def described(descriptor: dict, title: str | None, description: str, mime_type: str) -> dict:
    """A resource or template descriptor with its optional fields, in the order clients show them."""
    if title:
        descriptor["title"] = title
    if description:
        descriptor["description"] = description
    descriptor["mimeType"] = mime_type
    return descriptor


@dataclass
class Resource:
    uri: str
    name: str
    function: Function
    description: str = ""
    title: str | None = None
    mime_type: str = "text/plain"
    scope: str | None = None

    def descriptor(self) -> dict:
        return described({"uri": self.uri, "name": self.name}, self.title, self.description, self.mime_type)

    def read(self, uri: str, arguments: dict, context: Context) -> list[dict]:
        value = self.function.call(arguments, context)
        if isinstance(value, (str, bytes)):
            return [resource_contents(uri, value, self.mime_type)]
        return list(value)  # already a list of resource contents


@dataclass
class ResourceTemplate:
    uri_template: str
    name: str
    function: Function
    pattern: re.Pattern
    description: str = ""
    title: str | None = None
    mime_type: str = "text/plain"
    scope: str | None = None
    completions: dict[str, Callable] = field(default_factory=dict)

    def descriptor(self) -> dict:
        return described(
            {"uriTemplate": self.uri_template, "name": self.name}, self.title, self.description, self.mime_type
        )

    def as_resource(self) -> Resource:
        return Resource(self.uri_template, self.name, self.function, self.description, self.title, self.mime_type)


@dataclass
class Prompt:
    name: str
    function: Function
    description: str = ""
    title: str | None = None
    scope: str | None = None
    completions: dict[str, Callable] = field(default_factory=dict)

    def descriptor(self) -> dict:
        descriptor: dict[str, Any] = {"name": self.name}
        if self.title:
            descriptor["title"] = self.title
        if self.description:
            descriptor["description"] = self.description
        schema = input_schema(self.function.arguments)
        required = set(schema.get("required", []))
        descriptor["arguments"] = []
        for name, spec in schema["properties"].items():
            argument = {"name": name}
            if "description" in spec:
                argument["description"] = spec["description"]
            argument["required"] = name in required
            descriptor["arguments"].append(argument)
        return descriptor

    def get(self, arguments: dict, context: Context) -> dict:
        validated = self.function.validate(arguments, f"prompt '{self.name}'")
        value = self.function.call(validated, context)
        messages = [user_message(value)] if isinstance(value, str) else list(value)
        result: dict[str, Any] = {"messages": messages}
        if self.description:
            result["description"] = self.description
        return result


def user_message(value: str | Content) -> dict:
    return {"role": "user", "content": text(value) if isinstance(value, str) else value}


def assistant_message(value: str | Content) -> dict:
    return {"role": "assistant", "content": text(value) if isinstance(value, str) else value}


def template_pattern(uri_template: str) -> re.Pattern:
    """RFC 6570 level 1: each {name} matches one path segment."""
    parts = re.split(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", uri_template)
    regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts))
    return re.compile(f"^{regex}$")


# --- The registry ---------------------------------------------------------------------------------
LIST_KEYS = {"tools": "tools", "resources": "resources", "templates": "resourceTemplates", "prompts": "prompts"}


class Registry:
    def __init__(self):
        self.tools: dict[str, Tool] = {}
        self.resources: dict[str, Resource] = {}
        self.templates: dict[str, ResourceTemplate] = {}
        self.prompts: dict[str, Prompt] = {}
        self._descriptors: dict[str, list[dict]] = {}
        self._pages: dict[tuple[str, int, int], dict] = {}

    # Decorators -----------------------------------------------------------------------------------
    def tool(self, fn=None, *, name=None, title=None, description=None, annotations=None, scope=None, meta=None):
        """Register a function as a tool. `annotations` are MCP ToolAnnotations (readOnlyHint, …)."""

        def register(fn):
            tool_name = name or fn.__name__
            if not TOOL_NAME.match(tool_name):
                raise ImproperlyConfigured(f"tool name {tool_name!r} must match {TOOL_NAME.pattern}")
            adapter, schema, wrapped = output_adapter(get_type_hints(fn, include_extras=True))
            self._add(self.tools, tool_name, Tool(
                Function.of(fn, tool_name), tool_name, description_of(fn, description), title, annotations, scope,
                adapter, schema, wrapped, meta,
            ))
            return fn

        return register(fn) if fn is not None else register

    def resource(self, uri, *, name=None, title=None, description=None, mime_type="text/plain", scope=None):
        def register(fn):
            self._add(self.resources, uri, Resource(
                uri, name or fn.__name__, Function.of(fn, name or fn.__name__), description_of(fn, description),
                title, mime_type, scope,
            ))
            return fn

        return register

    def resource_template(self, uri_template, *, name=None, title=None, description=None, mime_type="text/plain",
                          scope=None, completions=None):
        """`completions` maps a template variable to `fn(value, arguments) -> list[str]` (completion/complete)."""

        def register(fn):
            function = Function.of(fn, name or fn.__name__)
            self._add(self.templates, uri_template, ResourceTemplate(
                uri_template, name or fn.__name__, function, template_pattern(uri_template),
                description_of(fn, description), title, mime_type, scope, dict(completions or {}),
            ))
            return fn

        return register

    def prompt(self, fn=None, *, name=None, title=None, description=None, scope=None, completions=None):
        def register(fn):
            prompt_name = name or fn.__name__
            self._add(self.prompts, prompt_name, Prompt(
                prompt_name, Function.of(fn, prompt_name), description_of(fn, description), title, scope,
                dict(completions or {}),
            ))
            return fn

        return register(fn) if fn is not None else register

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

    def page(self, kind: str, cursor: str | None, page_size: int) -> dict:
        """One page of a list result, `kind` in LIST_KEYS; stable order (by name or URI)."""
        offset = decode_cursor(cursor)
        key = (kind, offset, page_size)
        if key not in self._pages:
            items = self.descriptors(kind)
            if offset > len(items):
                raise JsonRpcError(INVALID_PARAMS, "Invalid cursor")
            page: dict[str, Any] = {LIST_KEYS[kind]: items[offset: offset + page_size]}
            if offset + page_size < len(items):
                page["nextCursor"] = encode_cursor(offset + page_size)
            self._pages[key] = page
        return self._pages[key]

    def descriptors(self, kind: str) -> list[dict]:
        if kind not in self._descriptors:
            table = {"tools": self.tools, "resources": self.resources, "templates": self.templates,
                     "prompts": self.prompts}[kind]
            self._descriptors[kind] = [table[key].descriptor() for key in sorted(table)]
        return self._descriptors[kind]


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: Any) -> int:
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "offset" or not number.isdigit():
            raise ValueError(raw)
        return int(number)
    except (TypeError, ValueError, UnicodeDecodeError):
        raise JsonRpcError(INVALID_PARAMS, "Invalid cursor") from None


registry = Registry()
tool = registry.tool
resource = registry.resource
resource_template = registry.resource_template
prompt = registry.prompt
