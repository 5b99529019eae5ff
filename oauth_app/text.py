"""Text hygiene where OAuth input enters: unstorable strings are refused, client-chosen names shown safely.

PostgreSQL's text types refuse NUL, and a lone UTF-16 surrogate (`"\\ud800"` in JSON) cannot be encoded
to UTF-8, so either one reaching the ORM is a 500 (common.storable.text_problem). They are refused where
input enters (oauth_app.middleware for query strings, forms and credentials; oauth_app.policies for
registration metadata), with the endpoint's standard error.
"""

import unicodedata

from common.storable import text_problem

DISPLAY_NAME_LENGTH = 100
# Invisible or direction-changing characters (controls, bidi overrides, zero-width and other format
# characters, surrogates, private use, unassigned, line and paragraph separators): they let a name
# look like another one, so a name shown to a person never carries them.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def unstorable_reason(value) -> str | None:
    """The first problem of any string in a JSON-shaped value (object keys included), or None.

    Iterative, so hostile nesting that json.loads accepted cannot exhaust the stack here.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return problem
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return None


def display_name(value: str, max_length: int = DISPLAY_NAME_LENGTH) -> str:
    """A client-chosen name as it may be shown: whitespace runs become one space, hidden characters
    are dropped, and the length is bounded (an ellipsis marks the cut)."""
    visible = "".join(ch for ch in " ".join(value.split()) if unicodedata.category(ch) not in HIDDEN_CATEGORIES)
    visible = " ".join(visible.split())  # dropping a character can leave two spaces side by side
    if len(visible) <= max_length:
        return visible
    return visible[: max_length - 1].rstrip() + "…"
