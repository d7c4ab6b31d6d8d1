"""Building JQL from values safely: every value Jirabridge puts into a query goes through here.

A value is always written as a double-quoted JQL string, with the escapes Jira's JQL grammar
defines (``\\"``, ``\\\\``, ``\\n``, ``\\r``, ``\\t``, ``\\uXXXX`` for other control characters),
so no value — a summary, a project key from a profile, an account id from a rules file, what a
user types in a picker — can end the string and add clauses of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["jql_list", "jql_string"]

_ESCAPES = {"\\": "\\\\", '"': '\\"', "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def jql_string(value: str) -> str:
    """``value`` as a quoted JQL string literal."""
    out = []
    for ch in value:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def jql_list(values: Iterable[str]) -> str:
    """``(v1, v2, ...)`` of quoted literals, for ``in`` clauses."""
    return "(" + ", ".join(jql_string(v) for v in values) + ")"
