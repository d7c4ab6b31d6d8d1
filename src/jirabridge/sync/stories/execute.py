"""The export executor: carries out an :class:`ExportPlan` through bulk create and the ledger.

Never duplicates: every create is recorded in the write ledger (intent) before its chunk goes
out and marked ``sent`` just before; an entry found ``sent`` on a later run (a crash, a lost
answer) is reconciled against Jira by its stamped external id before anything is re-sent.
Epics go first so stories can link to them; chunks are at most 50 issues (Jira's limit).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from jirabridge.errors import ApiError, ValidationError
from jirabridge.jira import EXTERNAL_ID_PROPERTY, CreatedIssue, Issue, IssueInput, JiraClient
from jirabridge.jira.creation import BULK_CREATE_MAX
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


def _stamp_of(issue: Issue) -> str | None:
    value = (issue.properties or {}).get(EXTERNAL_ID_PROPERTY)
    if isinstance(value, Mapping):
        found = value.get("externalId")
        return str(found) if found is not None else None
    return None


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
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.sleep = sleep
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

    async def reconcile(
        self, pending: Sequence[tuple[PlannedIssue, dict[str, Any]]]
    ) -> dict[str, CreatedIssue]:
        """Find issues an earlier run sent whose answers were lost, by our stamp.

        Search narrows the candidates (ours, in the project, created lately); the stamp is read
        from the search answer when the site returns properties there, else by a consistent
        read of each candidate whose summary matches, so a site whose search omits properties
        (or lags) cannot make us create twice. Polled like the client's own reconcile.
        """
        policy = self.jira.reconcile_policy
        wanted = {issue.external_id: fields.get("summary") for issue, fields in pending}
        summaries = {s for s in wanted.values() if isinstance(s, str)}
        found: dict[str, CreatedIssue] = {}
        checked: set[str] = set()
        jql = (
            f'project = "{self.plan.profile.project}" AND creator = currentUser() '
            f'AND created >= "-{policy.window_minutes}m" ORDER BY created DESC'
        )
        for attempt in range(policy.attempts):
            if attempt:
                await self.sleep(policy.delay)
            async for issue in self.jira.search(
                jql,
                fields=["summary"],
                properties=[EXTERNAL_ID_PROPERTY],
                strategy="pages",
            ):
                stamp = _stamp_of(issue)
                if stamp is None and issue.summary in summaries and issue.key not in checked:
                    checked.add(issue.key)
                    stamp = await self.jira.issue_external_id(issue.key)
                if stamp in wanted and stamp not in found:
                    found[stamp] = CreatedIssue(id=issue.id, key=issue.key)
            if wanted.keys() <= found.keys():
                break
        return found

    async def send_chunk(
        self, chunk: Sequence[tuple[PlannedIssue, dict[str, Any]]], sends: int = 1
    ) -> None:
        for issue, _ in chunk:
            await self.ledger.mark_sent(_ledger_key(self.site, issue.external_id))
        # One send per call: the client's own resend after a lost answer relies on search
        # returning our stamp, which not every site does (decision 0450). Lost answers come
        # back here as "no status" and are reconciled by consistent reads below.
        policy = self.jira.reconcile_policy
        self.jira.reconcile_policy = replace(policy, max_sends=1)
        try:
            answers = await self.jira.bulk_create(
                [IssueInput(fields=f, external_id=issue.external_id) for issue, f in chunk]
            )
        finally:
            self.jira.reconcile_policy = policy
        lost: list[tuple[PlannedIssue, dict[str, Any]]] = []
        for (issue, fields), answer in zip(chunk, answers, strict=True):
            key = _ledger_key(self.site, issue.external_id)
            if answer.issue is not None:
                await self.ledger.confirm(key, answer.issue.key)
                await self.report(
                    ItemResult(issue.item_id, issue.level, "created", key=answer.issue.key)
                )
                continue
            if answer.status is None or answer.status >= 500:
                # No answer, or a 5xx that may have been applied: look before resending.
                lost.append((issue, fields))
                continue
            message = _message(answer.error_messages, answer.field_errors)
            await self.ledger.mark_failed(key, message)
            await self.report(ItemResult(issue.item_id, issue.level, "failed", error=message))
        if not lost:
            return
        found = await self.reconcile(lost)
        missing = []
        for issue, fields in lost:
            created = found.get(issue.external_id)
            if created is None:
                missing.append((issue, fields))
                continue
            await self.ledger.confirm(_ledger_key(self.site, issue.external_id), created.key)
            await self.report(ItemResult(issue.item_id, issue.level, "created", key=created.key))
        if missing and sends < policy.max_sends:
            await self.send_chunk(missing, sends + 1)
            return
        for issue, _ in missing:
            # No definite answer: the entry stays ``sent`` and the next run reconciles it.
            await self.report(
                ItemResult(issue.item_id, issue.level, "unknown", error="no answer from Jira")
            )


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
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ExportResult:
    """Carry out ``plan`` on ``site``: epics first, then stories, in chunks of ``chunk_size``.

    Safe to run again after a crash or with an edited file (re-plan first): items already in
    Jira are found through the ledger and updated, never created twice. ``progress`` is called
    with each item's result as soon as it is known; ``sleep`` waits between reconcile polls.
    """
    if not plan.ok:
        raise_problems(plan)
    if not 1 <= chunk_size <= BULK_CREATE_MAX:
        raise ValidationError(f"chunk_size must be between 1 and {BULK_CREATE_MAX}")
    run = _Run(plan, jira, ledger, site, progress, chunk_size, sleep)
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
