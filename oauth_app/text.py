"""Text hygiene: which strings can be stored at all.

PostgreSQL's text types refuse NUL, and a lone UTF-16 surrogate (`"\\ud800"` in JSON) cannot be encoded
to UTF-8, so either one reaching the ORM is a 500. They are refused where input enters (oauth_app.middleware
for query strings, forms and credentials; oauth_app.policies for registration metadata), with the
endpoint's standard error.
"""

NUL = "\x00"


def text_problem(value: str) -> str | None:
    """Why this string cannot be stored or encoded, or None when it can."""
    if NUL in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate (not Unicode text)"
    return None


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
