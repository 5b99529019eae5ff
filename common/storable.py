"""Text PostgreSQL can store. Its text and jsonb types hold no NUL, and UTF-8 cannot encode a lone
surrogate, so one such character fails the whole INSERT or UPDATE it is in. Input the server may refuse is
refused where it enters (oauth_app.text); what must be kept anyway (the audit trail of a call, a task's
progress, answers and outcome, a person's profile from the IdP) is stored with each such character replaced
by U+FFFD.
"""

import json
import re

REPLACEMENT = "\ufffd"
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # in a Python str any surrogate is a lone one
# In JSON text a NUL is always the escape \u0000, and a backslash starts an escape only after an even run of them.
NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def text_problem(value: str) -> str | None:
    """Why this string cannot be stored, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    if UNSTORABLE.search(value):
        return "contains a lone UTF-16 surrogate (not Unicode text)"
    return None


def storable_text(text: str) -> str:
    return UNSTORABLE.sub(REPLACEMENT, text)


def storable_json(text: str) -> str:
    """JSON text (with its non-ASCII characters written as themselves) whose strings hold no unstorable
    character; keys and nested values included, at any depth."""
    if "\\u0000" in text:
        text = NUL_ESCAPE.sub(r"\1\\ufffd", text)
    return storable_text(text)


class StorableJSONEncoder(json.JSONEncoder):
    """For a JSONField whose value must be stored whatever text it holds."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "ensure_ascii": False})  # a lone surrogate stays a character

    def encode(self, value) -> str:
        return storable_json(super().encode(value))
