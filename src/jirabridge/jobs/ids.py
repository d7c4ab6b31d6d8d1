"""Deterministic workflow ids: the same job always gets the same id.

DBOS treats a workflow id as an idempotency key: starting or enqueueing a workflow under an id
that exists returns the existing one instead of running it again. Deduplication ids do not work
on partitioned queues, so this is how every Jirabridge job is made idempotent, e.g.
``workflow_id("worklog", site, record_id, revision)``.
"""

from __future__ import annotations

from typing import Final

from jirabridge.errors import ValidationError

__all__ = ["MAX_WORKFLOW_ID_LENGTH", "workflow_id"]

MAX_WORKFLOW_ID_LENGTH: Final = 1000
_SEPARATOR: Final = ":"


def _escape(part: str) -> str:
    # Escaping the separator keeps ids unambiguous: ("a:b", "c") and ("a", "b:c") differ.
    return part.replace("%", "%25").replace(_SEPARATOR, "%3A")


def workflow_id(kind: str, *parts: str | int) -> str:
    """Build the id ``kind:part1:part2...`` of a job; raise ValidationError on bad parts.

    ``kind`` names what the job does (``worklog``, ``export``...). Parts are our own stable
    identifiers (site, record id, revision); ``:`` and ``%`` inside them are percent-escaped.
    """
    if not isinstance(kind, str) or not kind.strip() or _SEPARATOR in kind:
        raise ValidationError("workflow id kind must be a non-empty string without ':'")
    if not parts:
        raise ValidationError("a workflow id needs at least one part besides its kind")
    pieces = [kind]
    for part in parts:
        if isinstance(part, bool) or not isinstance(part, str | int):
            kind_name = type(part).__name__
            raise ValidationError(f"workflow id parts must be str or int, not {kind_name}")
        text = str(part)
        if not text.strip():
            raise ValidationError("workflow id parts must not be empty")
        pieces.append(_escape(text))
    result = _SEPARATOR.join(pieces)
    if len(result) > MAX_WORKFLOW_ID_LENGTH:
        raise ValidationError(f"workflow id is longer than {MAX_WORKFLOW_ID_LENGTH} characters")
    return result
