"""The status-sync planner: a pure function from local state, Jira state and our ledger to a plan.

No I/O here: the handler in :mod:`jirabridge.sync.status_sync` loads the inputs, calls
:func:`plan_status_change` and applies exactly the plan it returns; tests drive the planner
directly.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from jirabridge.store.ledger import LedgerEntry
from jirabridge.store.models import LedgerState

__all__ = [
    "DEFAULT_CATEGORY_STATES",
    "STATUS_WRITE_KIND",
    "IncomingStatus",
    "LinkSnapshot",
    "StatusAction",
    "StatusMapping",
    "StatusPlan",
    "plan_status_change",
    "status_fingerprint",
]

#: The ledger ``kind`` of our own status transitions; features that move an issue's status
#: in Jira record their write under this kind, with ``target`` = the issue key and
#: ``fingerprint`` = :func:`status_fingerprint`.
STATUS_WRITE_KIND = "issue_status"

#: Jira's three status categories (``statusCategory.key``) and the local state each means.
DEFAULT_CATEGORY_STATES: Mapping[str, str] = MappingProxyType(
    {"new": "todo", "indeterminate": "in_progress", "done": "done"}
)


def status_fingerprint(issue_key: str, status_name: str) -> str:
    """The ledger fingerprint of "we moved ``issue_key`` to ``status_name``"."""
    text = f"{issue_key.upper()}\n{status_name.strip().casefold()}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StatusMapping:
    """Jira status -> local state: by exact status name first, then by status category."""

    by_name: Mapping[str, str] = field(default_factory=dict)
    by_category: Mapping[str, str] = field(default_factory=lambda: DEFAULT_CATEGORY_STATES)
    fallback: str = "unknown"

    def local_state(self, status_name: str, category: str | None) -> str:
        """The local state for a Jira status."""
        named = {k.casefold(): v for k, v in self.by_name.items()}.get(status_name.casefold())
        if named is not None:
            return named
        if category is not None and category in self.by_category:
            return self.by_category[category]
        return self.fallback


@dataclass(frozen=True, slots=True)
class LinkSnapshot:
    """What we know locally about one linked object."""

    issue_key: str
    local_state: str
    jira_status: str | None
    synced_jira_status: str | None
    local_dirty: bool
    #: When the link last changed: our own writes older than this are history, not echoes.
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class IncomingStatus:
    """A status Jira reports for an issue (from a webhook or a poll)."""

    issue_key: str
    status_name: str
    category: str | None


class StatusAction(enum.StrEnum):
    """What the plan does."""

    NOOP = "noop"
    ECHO = "echo"
    APPLY = "apply"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class StatusPlan:
    """The change to make to one link, and why."""

    action: StatusAction
    jira_status: str
    jira_category: str | None
    new_local_state: str | None
    reason: str


def _is_echo(link: LinkSnapshot, incoming: IncomingStatus, writes: Iterable[LedgerEntry]) -> bool:
    wanted = status_fingerprint(incoming.issue_key, incoming.status_name)
    for entry in writes:
        if entry.target is None or entry.target.upper() != incoming.issue_key.upper():
            continue
        if entry.fingerprint != wanted or entry.state == LedgerState.FAILED:
            continue
        # An old write of the same status is history: if someone else sets that status again
        # later, their change must flow.
        if entry.updated_at >= link.updated_at:
            return True
    return False


def plan_status_change(
    link: LinkSnapshot,
    incoming: IncomingStatus,
    own_writes: Iterable[LedgerEntry],
    mapping: StatusMapping | None = None,
) -> StatusPlan:
    """Decide what an incoming Jira status means for a linked local object.

    * same status as already mirrored: nothing to do (a webhook and a poll converge here);
    * our own write coming back (the ledger has it, newer than the link): dropped as an echo;
    * local side changed since the last agreed status: a conflict, recorded, not overwritten;
    * otherwise: the local state follows Jira.
    """
    mapping = mapping or StatusMapping()
    status, category = incoming.status_name, incoming.category
    if link.jira_status is not None and link.jira_status.casefold() == status.casefold():
        return StatusPlan(StatusAction.NOOP, status, category, None, "status already mirrored")
    if _is_echo(link, incoming, own_writes):
        return StatusPlan(StatusAction.ECHO, status, category, None, "our own write came back")
    target = mapping.local_state(status, category)
    if link.local_dirty and target != link.local_state:
        reason = (
            f"changed on both sides: local {link.local_state!r}, Jira {status!r} "
            f"(last agreed {link.synced_jira_status!r})"
        )
        return StatusPlan(StatusAction.CONFLICT, status, category, None, reason)
    return StatusPlan(StatusAction.APPLY, status, category, target, f"Jira moved to {status!r}")
