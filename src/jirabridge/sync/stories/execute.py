"""The export executor: carries out an :class:`ExportPlan` through bulk create and the ledger.

Never duplicates: every create is recorded in the write ledger (intent) before its chunk goes
out and marked ``sent`` just before. A lost answer is looked up by the client's one reconcile
path (:meth:`~jirabridge.jira.JiraClient.bulk_create`); an entry still ``sent`` on a later run
(a crash, an answer nobody could confirm) is looked up the same way before anything is re-sent.
Epics go first so stories can link to them; chunks are at most 50 issues (Jira's limit).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from jirabridge.errors import ApiError, ValidationError
from jirabridge.jira import CreatedIssue, IssueInput, JiraClient
from jirabridge.jira.creation import BULK_CREATE_MAX, newer_key
from jirabridge.store.ledger import LedgerKey, WriteLedger
from jirabridge.store.models import LedgerState, WriteOperation
from jirabridge.sync.stories.plan import (
    ExportPlan,
    ExportProfile,
    Level,
    PlannedIssue,
    PriorWrite,
    external_id_for,
)

__all__ = [
    "LEDGER_KIND",
    "ExportResult",
    "ItemResult",
    "ItemStatus",
    "Progress",
    "apply_export",
    "keys_by_item",
    "prior_state",
    "raise_problems",
]

#: The ledger kind for issues written by an export.
LEDGER_KIND = "issue"

ItemStatus = Literal["created", "updated", "unchanged", "failed", "unknown"]


@dataclass(frozen=True)
class ItemResult:
    """The outcome for one item. ``unknown``: sent, answer lost, reconciled on the next run."""

    item_id: str
    level: Level
    status: ItemStatus
    key: str | None = None
    error: str | None = None


@dataclass
class ExportResult:
    """Per-item results in plan order, and counts."""

    results: list[ItemResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many items ended in each status."""
        out: dict[str, int] = {}
        for result in self.results:
            out[result.status] = out.get(result.status, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        """True when no item failed or is still unknown."""
        return all(r.status not in ("failed", "unknown") for r in self.results)


Progress = Callable[[ItemResult], Awaitable[None] | None]


def _ledger_key(site: str, external_id: str) -> LedgerKey:
    return LedgerKey(site, LEDGER_KIND, external_id)


async def prior_state(
    ledger: WriteLedger, site: str, profile: ExportProfile, item_ids: Iterable[str]
) -> dict[str, PriorWrite]:
    """What the ledger knows about these items (the planner's ``prior``)."""
    out: dict[str, PriorWrite] = {}
    for item_id in item_ids:
        entry = await ledger.get(_ledger_key(site, external_id_for(profile, item_id)))
        if entry is not None:
            out[item_id] = PriorWrite(
                item_id=item_id,
                key=entry.remote_id,
                fingerprint=entry.fingerprint,
                state=entry.state.value,
                operation=entry.operation.value,
            )
    return out


class _Run:
    def __init__(
        self,
        plan: ExportPlan,
        jira: JiraClient,
        ledger: WriteLedger,
        site: str,
        progress: Progress | None,
        chunk_size: int,
    ) -> None:
        self.plan = plan
        self.jira = jira
        self.ledger = ledger
        self.site = site
        self.progress = progress
        self.chunk_size = chunk_size
        self.results: dict[str, ItemResult] = {}
        self.keys: dict[str, str] = {i.item_id: i.key for i in plan.issues if i.key}

    async def report(self, result: ItemResult) -> None:
        self.results[result.item_id] = result
        if result.key:
            self.keys[result.item_id] = result.key
        if self.progress is not None:
            outcome = self.progress(result)
            if inspect.isawaitable(outcome):
                await outcome

    def final_fields(self, issue: PlannedIssue) -> dict[str, Any] | None:
        fields = dict(issue.fields)
        if issue.parent_item is None:
            return fields
        parent_key = self.keys.get(issue.parent_item)
        if parent_key is None:
            return None
        if self.plan.profile.flavor == "cloud":
            fields["parent"] = {"key": parent_key}
        else:
            fields[self.plan.profile.epic_link_field] = parent_key
        return fields

    async def level(self, level: Level) -> None:
        issues = [i for i in self.plan.issues if i.level == level]
        creates: list[tuple[PlannedIssue, dict[str, Any]]] = []
        for issue in issues:
            fields = self.final_fields(issue)
            if fields is None:
                await self.report(
                    ItemResult(issue.item_id, level, "failed", error="its epic was not exported")
                )
            elif issue.action == "unchanged":
                await self.report(ItemResult(issue.item_id, level, "unchanged", key=issue.key))
            elif issue.action == "update":
                await self.update(issue, fields)
            else:
                creates.append((issue, fields))
        await self.create(creates)

    async def update(self, issue: PlannedIssue, fields: dict[str, Any]) -> None:
        assert issue.key is not None  # the planner sets it for updates
        key = _ledger_key(self.site, issue.external_id)
        entry = await self.ledger.get(key)
        resend = (
            entry is not None
            and entry.state == LedgerState.SENT
            and entry.operation == WriteOperation.UPDATE
        )
        if not resend:
            await self.ledger.replan(
                key, fingerprint=issue.fingerprint, operation=WriteOperation.UPDATE
            )
        editable = {k: v for k, v in fields.items() if k not in ("project", "issuetype")}
        await self.ledger.mark_sent(key)
        try:
            # An edit sets fields to values: sending it twice is harmless.
            await self.jira.edit_issue(issue.key, fields=editable, notify_users=False)
        except ApiError as exc:
            await self.ledger.mark_failed(key, exc.message)
            await self.report(
                ItemResult(issue.item_id, issue.level, "failed", issue.key, exc.message)
            )
            return
        await self.ledger.confirm(key, issue.key)
        await self.report(ItemResult(issue.item_id, issue.level, "updated", key=issue.key))

    async def create(self, creates: Sequence[tuple[PlannedIssue, dict[str, Any]]]) -> None:
        to_send: list[tuple[PlannedIssue, dict[str, Any]]] = []
        to_reconcile: list[tuple[PlannedIssue, dict[str, Any]]] = []
        for issue, fields in creates:
            key = _ledger_key(self.site, issue.external_id)
            intent = await self.ledger.record_intent(
                key,
                fingerprint=issue.fingerprint,
                operation=WriteOperation.CREATE,
                target=self.plan.profile.project,
            )
            entry = intent.entry
            if intent.created:
                to_send.append((issue, fields))
            elif entry.state == LedgerState.CONFIRMED and entry.operation == WriteOperation.CREATE:
                # Made by an earlier run that stopped before reporting it.
                await self.report(
                    ItemResult(issue.item_id, issue.level, "created", key=entry.remote_id)
                )
            elif entry.state == LedgerState.SENT:
                to_reconcile.append((issue, fields))
            else:
                await self.ledger.replan(
                    key,
                    fingerprint=issue.fingerprint,
                    operation=WriteOperation.CREATE,
                    target=self.plan.profile.project,
                )
                to_send.append((issue, fields))
        if to_reconcile:
            found = await self.reconcile(to_reconcile)
            for issue, fields in to_reconcile:
                created = found.get(issue.external_id)
                if created is None:
                    to_send.append((issue, fields))
                    continue
                await self.ledger.confirm(_ledger_key(self.site, issue.external_id), created.key)
                await self.report(
                    ItemResult(issue.item_id, issue.level, "created", key=created.key)
                )
        for start in range(0, len(to_send), self.chunk_size):
            await self.send_chunk(to_send[start : start + self.chunk_size])

    def anchor(self) -> dict[str, str]:
        """The newest key of the project this run knows: every issue a chunk sent from now on
        creates gets a higher number, so the client's look-up after a lost answer can start
        there (one page instead of every recent issue)."""
        project = self.plan.profile.project
        newest: str | None = None
        for key in self.keys.values():
            if key.startswith(f"{project}-"):
                newest = newer_key(newest, key)
        return {project: newest} if newest else {}

    async def reconcile(
        self, pending: Sequence[tuple[PlannedIssue, dict[str, Any]]]
    ) -> dict[str, CreatedIssue]:
        """Find issues an earlier run sent whose answers were lost, by our stamp.

        The client's one look-up (:meth:`JiraClient.find_created_issues`), with no anchor key
        (an earlier run's later chunks may be newer than these) and a window reaching back to
        when the oldest of them was sent.
        """
        wanted: dict[str, str | None] = {}
        oldest: datetime | None = None
        for issue, fields in pending:
            summary = fields.get("summary")
            wanted[issue.external_id] = summary if isinstance(summary, str) else None
            entry = await self.ledger.get(_ledger_key(self.site, issue.external_id))
            if entry is not None and (oldest is None or entry.updated_at < oldest):
                oldest = entry.updated_at
        window = self.jira.reconcile_policy.window_minutes
        if oldest is not None:
            sent_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = (datetime.now(UTC) - sent_at).total_seconds()
            window = max(window, math.ceil(age / 60) + 5)
        return await self.jira.find_created_issues(
            self.plan.profile.project, wanted, window_minutes=window
        )

    async def send_chunk(self, chunk: Sequence[tuple[PlannedIssue, dict[str, Any]]]) -> None:
        for issue, _ in chunk:
            await self.ledger.mark_sent(_ledger_key(self.site, issue.external_id))
        # The client looks up a lost answer once and re-sends only what it did not find; what
        # is still open after that comes back ``unknown`` and its entry stays ``sent``.
        answers = await self.jira.bulk_create(
            [IssueInput(fields=f, external_id=issue.external_id) for issue, f in chunk],
            after_keys=self.anchor(),
        )
        for (issue, _), answer in zip(chunk, answers, strict=True):
            key = _ledger_key(self.site, issue.external_id)
            if answer.issue is not None:
                await self.ledger.confirm(key, answer.issue.key)
                await self.report(
                    ItemResult(issue.item_id, issue.level, "created", key=answer.issue.key)
                )
            elif answer.unknown:
                # No definite answer: the next run reconciles it before anything is re-sent.
                message = _message(answer.error_messages, answer.field_errors)
                await self.report(ItemResult(issue.item_id, issue.level, "unknown", error=message))
            else:
                message = _message(answer.error_messages, answer.field_errors)
                await self.ledger.mark_failed(key, message)
                await self.report(ItemResult(issue.item_id, issue.level, "failed", error=message))


def _message(messages: Sequence[str], field_errors: Mapping[str, str]) -> str:
    parts = [*messages, *(f"{k}: {v}" for k, v in field_errors.items())]
    return "; ".join(parts) or "Jira did not create it"


async def apply_export(
    plan: ExportPlan,
    *,
    jira: JiraClient,
    ledger: WriteLedger,
    site: str,
    progress: Progress | None = None,
    chunk_size: int = BULK_CREATE_MAX,
) -> ExportResult:
    """Carry out ``plan`` on ``site``: epics first, then stories, in chunks of ``chunk_size``.

    Safe to run again after a crash or with an edited file (re-plan first): items already in
    Jira are found through the ledger and updated, never created twice. ``progress`` is called
    with each item's result as soon as it is known. Waits (retries, the look-up after a lost
    answer) are the client's own, on its injected ``sleep``.
    """
    if not plan.ok:
        raise_problems(plan)
    if not 1 <= chunk_size <= BULK_CREATE_MAX:
        raise ValidationError(f"chunk_size must be between 1 and {BULK_CREATE_MAX}")
    run = _Run(plan, jira, ledger, site, progress, chunk_size)
    await run.level("epic")
    await run.level("story")
    return ExportResult([run.results[i.item_id] for i in plan.issues])


def raise_problems(plan: ExportPlan) -> None:
    """Refuse a plan with problems: apply never writes half of a bad file."""
    lines = "; ".join(str(p) for p in plan.problems[:5])
    more = f" (and {len(plan.problems) - 5} more)" if len(plan.problems) > 5 else ""
    raise ValidationError(f"the export plan has problems: {lines}{more}")


def keys_by_item(result: ExportResult) -> Mapping[str, str]:
    """Item id -> issue key for every item that is in Jira."""
    return {r.item_id: r.key for r in result.results if r.key}
