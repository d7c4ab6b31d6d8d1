"""The worklog sync planner: a pure function from both sides' state to a plan.

Inputs are plain snapshots (records, Jira's worklogs and issues, the write ledger); the output
is a :class:`SyncPlan` that the dry run prints and the executor carries out exactly. No I/O
happens here, so every rule below is unit-tested without a network or a database.

The rules, per record:

- unlinked or deleted, with a worklog in Jira: delete it (an ambiguous earlier create is found
  by its external id first). Deleted and never synced: nothing to write; unlinked and never
  synced: a per-record error (no linked issue).
- linked, no worklog yet: checks (zero length, unknown / closed / not permitted issue) give a
  per-record error; a create the ledger already confirmed is adopted; otherwise create.
- linked, with a worklog: compare each side with the version agreed at the last sync. Local
  change only: update in place (never delete-then-add). Jira change only: pull it into the
  record. Both: a conflict holding both versions, for the user to resolve. Deleted in Jira:
  delete the record, unless it changed here too (then a conflict).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jirabridge.store.models import LedgerState
from jirabridge.sync.worklogs.rounding import local_started

__all__ = [
    "ActionKind",
    "IssueFacts",
    "LedgerFacts",
    "PlannedAction",
    "RecordSnapshot",
    "RemoteWorklog",
    "SyncPlan",
    "content_fingerprint",
    "plan_sync",
]


class ActionKind(enum.StrEnum):
    """What the executor does for one record."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ADOPT = "adopt"
    PULL_UPDATE = "pull-update"
    PULL_DELETE = "pull-delete"
    CONFLICT = "conflict"
    ERROR = "error"
    NOOP = "noop"


#: Kinds that write to Jira.
JIRA_WRITES = frozenset({ActionKind.CREATE, ActionKind.UPDATE, ActionKind.DELETE, ActionKind.ADOPT})


@dataclass(frozen=True, slots=True)
class RecordSnapshot:
    """A time record as the planner sees it."""

    id: str
    issue_key: str | None
    started_at: datetime
    duration_seconds: int
    notes: str = ""
    time_zone: str = "UTC"
    deleted: bool = False
    worklog_id: str | None = None
    synced_issue_key: str | None = None
    synced_fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """The fingerprint of what this record would write."""
        return content_fingerprint(self.started_at, self.duration_seconds, self.notes)


@dataclass(frozen=True, slots=True)
class RemoteWorklog:
    """A worklog as Jira holds it (comment as plain text)."""

    id: str
    started: datetime
    seconds: int
    comment: str = ""

    @property
    def fingerprint(self) -> str:
        """The fingerprint of Jira's version."""
        return content_fingerprint(self.started, self.seconds, self.comment)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for conflicts shown to people)."""
        return {
            "id": self.id,
            "started": self.started.isoformat(),
            "seconds": self.seconds,
            "comment": self.comment,
        }


@dataclass(frozen=True, slots=True)
class IssueFacts:
    """What matters about an issue before a worklog is written on it."""

    key: str
    exists: bool = True
    closed: bool = False
    can_log_work: bool = True


@dataclass(frozen=True, slots=True)
class LedgerFacts:
    """The write ledger's entry for a record's worklog."""

    state: LedgerState
    remote_id: str | None = None
    target: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One step of a plan. ``started`` is in the record's zone; ``reason`` is for people."""

    record_id: str
    kind: ActionKind
    reason: str
    issue_key: str | None = None
    worklog_id: str | None = None
    started: datetime | None = None
    seconds: int | None = None
    comment: str = ""
    fingerprint: str | None = None
    #: The ledger left a create unanswered: look for it in Jira before writing.
    reconcile_first: bool = False
    remote: RemoteWorklog | None = None

    @property
    def writes_to_jira(self) -> bool:
        """Whether carrying this out writes to Jira."""
        return self.kind in JIRA_WRITES

    def describe(self) -> str:
        """One line for the dry run and the UI."""
        where = self.issue_key or "-"
        size = f" {self.seconds // 60} min" if self.seconds else ""
        when = f" {self.started.isoformat()}" if self.started else ""
        return f"{self.kind.value:<11} {self.record_id} {where}{when}{size}: {self.reason}"


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """The actions for a set of records, in record order."""

    actions: tuple[PlannedAction, ...] = field(default=())

    def counts(self) -> dict[str, int]:
        """How many actions of each kind."""
        out: dict[str, int] = {}
        for action in self.actions:
            out[action.kind.value] = out.get(action.kind.value, 0) + 1
        return out

    def for_record(self, record_id: str) -> PlannedAction:
        """The action planned for ``record_id``."""
        for action in self.actions:
            if action.record_id == record_id:
                return action
        raise KeyError(record_id)

    def render(self) -> str:
        """The plan as text, one line per action that does something, then the counts."""
        lines = [a.describe() for a in self.actions if a.kind is not ActionKind.NOOP]
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts().items()))
        lines.append(f"{len(self.actions)} record(s) — {counts or 'nothing to do'}")
        return "\n".join(lines)


def content_fingerprint(started: datetime, seconds: int, comment: str) -> str:
    """A short hash of a worklog's content: start instant (to the second), length, comment.

    The issue is left out on purpose: it is compared on its own, and Jira's worklog listing
    names issues by id, not key.
    """
    instant = started.astimezone(UTC).replace(microsecond=0).isoformat()
    text = f"{instant}|{seconds}|{comment.strip()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def plan_sync(
    records: Iterable[RecordSnapshot],
    *,
    remote: Mapping[str, RemoteWorklog],
    issues: Mapping[str, IssueFacts],
    ledger: Mapping[str, LedgerFacts],
) -> SyncPlan:
    """Plan the sync of ``records``.

    ``remote`` holds Jira's worklogs by id for every record that has a worklog id; an id
    missing from it was deleted in Jira. ``issues`` holds the facts of the linked issues of
    records that need a create; ``ledger`` the write ledger's entries by record id.
    """
    return SyncPlan(tuple(_plan_one(r, remote, issues, ledger.get(r.id)) for r in records))


def _write(record: RecordSnapshot, kind: ActionKind, reason: str, **extra: Any) -> PlannedAction:
    return PlannedAction(
        record_id=record.id,
        kind=kind,
        reason=reason,
        issue_key=extra.pop("issue_key", record.issue_key),
        worklog_id=extra.pop("worklog_id", record.worklog_id),
        started=local_started(record.started_at, record.time_zone),
        seconds=record.duration_seconds,
        comment=record.notes,
        fingerprint=record.fingerprint,
        **extra,
    )


def _plan_one(
    record: RecordSnapshot,
    remote: Mapping[str, RemoteWorklog],
    issues: Mapping[str, IssueFacts],
    entry: LedgerFacts | None,
) -> PlannedAction:
    known_id = record.worklog_id
    if known_id is None and entry is not None and entry.state is LedgerState.CONFIRMED:
        known_id = entry.remote_id
    ambiguous = entry is not None and entry.state is LedgerState.SENT
    if record.deleted or record.issue_key is None:
        return _plan_removal(record, known_id, ambiguous, entry)
    if record.worklog_id is None:
        return _plan_first_write(record, issues, entry, known_id, ambiguous)
    if record.synced_issue_key is not None and record.issue_key != record.synced_issue_key:
        return PlannedAction(
            record.id,
            ActionKind.ERROR,
            f"linked issue changed from {record.synced_issue_key} after the worklog was written; "
            "Jira cannot move a worklog: unlink the record (deletes the worklog), then link it",
            issue_key=record.issue_key,
            worklog_id=record.worklog_id,
        )
    return _plan_existing(record, remote.get(record.worklog_id))


def _plan_removal(
    record: RecordSnapshot, known_id: str | None, ambiguous: bool, entry: LedgerFacts | None
) -> PlannedAction:
    what = "deleted" if record.deleted else "unlinked"
    target = record.synced_issue_key or (entry.target if entry else None)
    if known_id is not None or ambiguous:
        return PlannedAction(
            record.id,
            ActionKind.DELETE,
            f"record {what}: delete its worklog",
            issue_key=target,
            worklog_id=known_id,
            reconcile_first=known_id is None,
        )
    if record.deleted:
        return PlannedAction(record.id, ActionKind.NOOP, "record deleted; nothing in Jira")
    return PlannedAction(
        record.id, ActionKind.ERROR, "no linked issue: link the record to an issue first"
    )


def _plan_first_write(
    record: RecordSnapshot,
    issues: Mapping[str, IssueFacts],
    entry: LedgerFacts | None,
    known_id: str | None,
    ambiguous: bool,
) -> PlannedAction:
    key = record.issue_key
    assert key is not None
    if record.duration_seconds <= 0:
        return PlannedAction(record.id, ActionKind.ERROR, "the record is 0 minutes long", key)
    if known_id is not None and entry is not None and entry.target == key:
        return _write(record, ActionKind.ADOPT, "written before; take it over", worklog_id=known_id)
    facts = issues.get(key)
    if facts is None or not facts.exists:
        return PlannedAction(record.id, ActionKind.ERROR, f"issue {key} does not exist", key)
    if facts.closed:
        return PlannedAction(record.id, ActionKind.ERROR, f"issue {key} is closed", key)
    if not facts.can_log_work:
        return PlannedAction(
            record.id, ActionKind.ERROR, f"no permission to log work on {key}", key
        )
    reason = "new worklog" if not ambiguous else "new worklog (an earlier try may have landed)"
    return _write(record, ActionKind.CREATE, reason, reconcile_first=ambiguous)


def _plan_existing(record: RecordSnapshot, theirs: RemoteWorklog | None) -> PlannedAction:
    mine = record.fingerprint
    agreed = record.synced_fingerprint
    local_changed = mine != agreed
    if theirs is None:
        if local_changed:
            return _write(
                record, ActionKind.CONFLICT, "deleted in Jira and changed here", remote=None
            )
        return PlannedAction(
            record.id,
            ActionKind.PULL_DELETE,
            "worklog deleted in Jira: delete the record",
            issue_key=record.issue_key,
            worklog_id=record.worklog_id,
        )
    remote_changed = theirs.fingerprint != agreed
    if local_changed and remote_changed and mine != theirs.fingerprint:
        return _write(record, ActionKind.CONFLICT, "changed here and in Jira", remote=theirs)
    if local_changed and remote_changed:
        return _write(record, ActionKind.ADOPT, "same change on both sides")
    if local_changed:
        return _write(record, ActionKind.UPDATE, "changed here")
    if remote_changed:
        return _write(record, ActionKind.PULL_UPDATE, "changed in Jira", remote=theirs)
    return PlannedAction(record.id, ActionKind.NOOP, "in step", record.issue_key, record.worklog_id)
