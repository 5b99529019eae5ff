"""A function's signature as MCP describes it: parameters → pydantic model → inputSchema, return type →
output adapter and outputSchema, and the validation and call of the function with its arguments."""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args, get_origin, get_type_hints

import pydantic
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured

from mcp_app.context import Context
from mcp_app.registry.content import Content, ToolResult

# Returns written to the client as they are: no outputSchema.
PASSTHROUGH_RETURNS = (Content, ToolResult)


class InvalidArguments(Exception):
    """Arguments do not match the schema; the message says which and why (safe to show)."""


def context_parameter(hints: dict) -> str | None:
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


# MCP's default dialect (SEP-1613); pydantic writes 2020-12 schemas ($defs, prefixItems).
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def with_dialect(schema: dict) -> dict:
    """The schema with its dialect named first (a schema that names its own is left as it is)."""
    return schema if "$schema" in schema else {"$schema": JSON_SCHEMA_DIALECT, **schema}


def input_schema(model: type[pydantic.BaseModel]) -> dict:
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema.setdefault("properties", {})
    return schema


@dataclass(kw_only=True)
class Output:
    """How a return value becomes structuredContent; no adapter means text or content as returned."""

    adapter: pydantic.TypeAdapter | None = None
    schema: dict | None = None
    wrapped: bool = False  # a non-object type is sent as {"result": value}


def output_of(fn: Callable) -> Output:
    """The Output for the function's return type. Text and content returns have no schema; a non-object
    type is wrapped as {"result": value}, since structuredContent is an object."""
    returns = get_type_hints(fn, include_extras=True).get("return", inspect.Signature.empty)
    origin_args = get_args(returns) if get_origin(returns) in (list, tuple) else ()
    if returns in (inspect.Signature.empty, None, type(None), str, Any) or returns in PASSTHROUGH_RETURNS:
        return Output()
    if origin_args and all(arg in PASSTHROUGH_RETURNS for arg in origin_args):
        return Output()
    adapter = pydantic.TypeAdapter(returns)
    schema = adapter.json_schema(mode="serialization")
    schema.pop("title", None)
    if schema.get("type") == "object":
        return Output(adapter=adapter, schema=schema)
    defs = schema.pop("$defs", None)
    wrapped = {"type": "object", "properties": {"result": schema}, "required": ["result"]}
    if defs:
        wrapped["$defs"] = defs
    return Output(adapter=adapter, schema=wrapped, wrapped=True)


def validation_message(what: str, error: pydantic.ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'arguments'}: {item['msg']}" for item in error.errors()
    )
    return f"Invalid arguments for {what}: {problems}"


def description_of(fn: Callable, description: str | None) -> str:
    return description if description is not None else inspect.cleandoc(fn.__doc__ or "")


@dataclass(kw_only=True)
class Function:
    """What tools, resource templates and prompts share: a function, its arguments model, a Context slot."""

    fn: Callable
    name: str
    arguments: type[pydantic.BaseModel]
    context_name: str | None

    @classmethod
    def of(cls, fn: Callable, name: str) -> "Function":
        hints = get_type_hints(fn, include_extras=True)
        context_name = context_parameter(hints)
        return cls(fn=fn, name=name, arguments=arguments_model(fn, name, hints, context_name),
                   context_name=context_name)

    def validate(self, arguments: dict, what: str) -> dict:
        try:
            validated = self.arguments.model_validate(arguments)
        except pydantic.ValidationError as exc:
            raise InvalidArguments(validation_message(what, exc)) from None
        return dict(validated)  # field name → validated value

    def call(self, arguments: dict, context: Context) -> Any:
        if self.context_name:
            arguments = {**arguments, self.context_name: context}
        if inspect.iscoroutinefunction(self.fn):
            return async_to_sync(self.fn)(**arguments)
        return self.fn(**arguments)
