"""The registered things: tools, resources, resource templates and prompts. Each knows its descriptor
(what the list methods show) and how to answer the method that uses it. Built with keyword arguments."""

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.logging import current_request_id
from mcp_app.context import Context, ToolError
from mcp_app.input_required import InputRequired
from mcp_app.jsonrpc import JsonRpcError
from mcp_app.registry.content import Content, ToolResult, error_result, resource_contents, text, user_message
from mcp_app.registry.signatures import Function, InvalidArguments, Output, input_schema, with_dialect

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimit:
    """`@tool(rate_limit="10/m")`: at most `count` calls per `seconds`, per (client, user)."""

    count: int
    seconds: int

    UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

    @classmethod
    def parse(cls, text: str) -> "RateLimit":
        count, _, unit = str(text).partition("/")
        if not count.strip().isdigit() or int(count) < 1 or unit.strip() not in cls.UNITS:
            raise ValueError(f"rate_limit {text!r} must look like 10/m (units: s, m, h, d)")
        return cls(int(count), cls.UNITS[unit.strip()])


class ResourceNotFound(Exception):
    """Raise in a resource function when the URI names nothing (answered as "Resource not found")."""


@dataclass(kw_only=True)
class Tool:
    function: Function
    name: str
    description: str
    title: str | None = None
    annotations: dict | None = None
    scope: str | None = None
    output: Output = field(default_factory=Output)
    meta: dict | None = None
    # The tasks extension (mcp_app.tasks): "optional" or "required" lets the call run as a task; a
    # launcher runs on the request and returns the task's work (mcp_app.tasks.Background).
    task_support: str | None = None
    task_launcher: bool = False
    schema: dict | None = None  # an inputSchema given as is, instead of the one of the parameters
    groups: tuple[str, ...] = ()  # code default of the access policy (mcp_app.policy)
    audit_arguments: bool = False  # store the arguments in the audit trail, secrets redacted
    rate_limit: "RateLimit | None" = None

    kind = "tool"

    @property
    def key(self) -> str:
        return self.name

    @property
    def uses_context(self) -> bool:
        return self.function.context_name is not None

    @property
    def input_schema(self) -> dict:
        return self.schema if self.schema is not None else input_schema(self.function.arguments)

    def descriptor(self, dialect: bool = False) -> dict:
        """What tools/list shows; `dialect` adds `$schema` (2026-07-28) to the schemas we generate."""
        descriptor: dict[str, Any] = {"name": self.name}
        if self.title:
            descriptor["title"] = self.title
        descriptor["description"] = self.description
        descriptor["inputSchema"] = with_dialect(self.input_schema) if dialect else self.input_schema
        if self.output.schema:
            descriptor["outputSchema"] = with_dialect(self.output.schema) if dialect else self.output.schema
        if self.annotations:
            descriptor["annotations"] = self.annotations
        if self.task_support:
            descriptor["execution"] = {"taskSupport": self.task_support}
        if self.meta:
            descriptor["_meta"] = self.meta
        return descriptor

    def call(self, arguments: dict, context: Context) -> dict:
        """Run the tool. Bad arguments and failures become `isError` results (failures are logged here)."""
        try:
            value = self.function.call(self.function.validate(arguments, f"tool '{self.name}'"), context)
        except (InvalidArguments, ToolError) as exc:
            return error_result(str(exc))
        except (InputRequired, JsonRpcError):  # answered by the dispatch: input_required, -32021, …
            raise
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
        if self.output.adapter is None:
            return {"content": [text(value if isinstance(value, str) else json.dumps(value, default=str))]}
        structured = self.output.adapter.dump_python(value, mode="json")
        if self.output.wrapped:
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


@dataclass(kw_only=True)
class Resource:
    uri: str
    name: str
    function: Function
    description: str = ""
    title: str | None = None
    mime_type: str = "text/plain"
    scope: str | None = None
    groups: tuple[str, ...] = ()

    kind = "resource"

    @property
    def key(self) -> str:
        return self.uri

    def descriptor(self) -> dict:
        return described({"uri": self.uri, "name": self.name}, self.title, self.description, self.mime_type)

    def read(self, uri: str, arguments: dict, context: Context) -> list[dict]:
        value = self.function.call(arguments, context)
        if isinstance(value, (str, bytes)):
            return [resource_contents(uri, value, self.mime_type)]
        return list(value)  # already a list of resource contents


def template_pattern(uri_template: str) -> re.Pattern:
    """RFC 6570 level 1: each {name} matches one path segment."""
    parts = re.split(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", uri_template)
    regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts))
    return re.compile(f"^{regex}$")


@dataclass(kw_only=True)
class ResourceTemplate:
    uri_template: str
    name: str
    function: Function
    description: str = ""
    title: str | None = None
    mime_type: str = "text/plain"
    scope: str | None = None
    completions: dict[str, Callable] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    pattern: re.Pattern = field(init=False)

    kind = "resource"

    @property
    def key(self) -> str:
        return self.uri_template

    def __post_init__(self):
        self.pattern = template_pattern(self.uri_template)

    def descriptor(self) -> dict:
        return described(
            {"uriTemplate": self.uri_template, "name": self.name}, self.title, self.description, self.mime_type
        )

    def as_resource(self) -> Resource:
        return Resource(uri=self.uri_template, name=self.name, function=self.function, description=self.description,
                        title=self.title, mime_type=self.mime_type, groups=self.groups)


@dataclass(kw_only=True)
class Prompt:
    name: str
    function: Function
    description: str = ""
    title: str | None = None
    scope: str | None = None
    completions: dict[str, Callable] = field(default_factory=dict)
    groups: tuple[str, ...] = ()

    kind = "prompt"

    @property
    def key(self) -> str:
        return self.name

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
