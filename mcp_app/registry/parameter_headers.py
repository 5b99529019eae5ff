"""Tool parameters mirrored as HTTP headers (2026-07-28, SEP-2243): a property of a tool's inputSchema
annotated `"x-mcp-header": "Region"` is sent by clients as `Mcp-Param-Region`, so that gateways can route
on it without reading the body.

    @tool(scope="mcp:tools")
    def forecast(region: Annotated[str, header("Region")], days: int = 3) -> str: ...

Registration refuses a definition clients would reject (empty, non-ASCII, space or ':' in the name, a
name used twice, a non-primitive parameter). A 2026-07-28 `tools/call` must carry each header whose
parameter has a value in the body, equal to it after decoding `=?base64?…?=`: otherwise 400 with
-32020 (header mismatch). Older versions have no such headers.
"""

import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from pydantic import Field

from mcp_app.jsonrpc import HEADER_MISMATCH, JsonRpcError
from mcp_app.versions import decode_header_value

HEADER_KEY = "x-mcp-header"
HEADER_PREFIX = "Mcp-Param-"
HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # visible ASCII but ':' (no space)
PRIMITIVE_TYPES = {"string", "number", "integer", "boolean"}
# What a header value may hold (RFC 9110 field-vchar, space and tab); anything else is refused.
HEADER_VALUE = re.compile(r"^[\t\x20-\x7e]*$")


def header(name: str, **field: Any):
    """A parameter annotation (`Annotated[str, header("Region")]`) that mirrors it as Mcp-Param-<name>."""
    extra = dict(field.pop("json_schema_extra", None) or {})
    return Field(json_schema_extra={**extra, HEADER_KEY: name}, **field)


def header_parameters(schema: dict) -> dict[str, str]:
    """parameter name → header name, for the properties annotated with x-mcp-header."""
    properties = schema.get("properties") or {}
    return {name: spec[HEADER_KEY] for name, spec in properties.items()
            if isinstance(spec, dict) and HEADER_KEY in spec}


def primitive(spec: dict) -> bool:
    kinds = spec.get("type")
    if kinds is None and "anyOf" in spec:  # Optional[str] → anyOf [string, null]
        kinds = [part.get("type") for part in spec["anyOf"] if isinstance(part, dict)]
    kinds = {kinds} if isinstance(kinds, str) else set(kinds or ())
    return bool(kinds - {"null"}) and kinds - {"null"} <= PRIMITIVE_TYPES


def check_header_parameters(tool_name: str, schema: dict) -> None:
    """Refuse, at start-up, an x-mcp-header designation that clients must reject."""
    seen: set[str] = set()
    for parameter, name in header_parameters(schema).items():
        problem = None
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            problem = "must be a non-empty ASCII name without spaces or ':'"
        elif name.lower() in seen:
            problem = "is used twice (header names are case-insensitive)"
        elif not primitive(schema["properties"][parameter]):
            problem = "is only allowed on a string, number or boolean parameter"
        if problem:
            raise ImproperlyConfigured(f"tool {tool_name!r}: {HEADER_KEY} {name!r} of {parameter!r} {problem}")
        seen.add(name.lower())


def decoded(value: str) -> str | None:
    """A header value as the client meant it (None: it cannot be decoded or holds forbidden characters)."""
    if not HEADER_VALUE.match(value):
        return None
    return decode_header_value(value.strip(" \t"))  # without both =?base64? and ?= the value is literal


def matches(sent: str, value: Any) -> bool:
    if isinstance(value, bool):
        return sent == ("true" if value else "false")
    if isinstance(value, (int, float)):
        try:
            return float(sent) == float(value)
        except ValueError:
            return False
    return isinstance(value, str) and sent == value


def check_parameter_headers(schema: dict, arguments: Any, headers: Mapping[str, str], request_id) -> None:
    """Each designated parameter with a value in the body comes with its header, equal to it."""
    if not isinstance(arguments, dict):
        return  # the call itself answers bad arguments
    for parameter, name in header_parameters(schema).items():
        value = arguments.get(parameter)
        if value is None:
            continue  # an omitted or null parameter has no header to expect
        sent = headers.get(HEADER_PREFIX + name)
        if sent is None:
            problem = f"the {HEADER_PREFIX}{name} header is missing"
        elif (text := decoded(sent)) is None:
            problem = f"the {HEADER_PREFIX}{name} header is not a valid value (bad characters or Base64)"
        elif not matches(text, value):
            problem = f"the {HEADER_PREFIX}{name} header differs from the body's {parameter}"
        else:
            continue
        raise JsonRpcError(HEADER_MISMATCH, f"Header mismatch: {problem}", id=request_id)
