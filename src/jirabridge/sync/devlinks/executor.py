"""Carry out link and Smart Commit plans against Jira, each write once (through the ledger).

The executor never decides anything: it reads the Jira state a planner needs
(:func:`read_link_state`, :func:`read_smart_commit_state`), and writes exactly the plan it is
given. Remote links are idempotent by ``globalId``; comments and transitions go through the
write ledger; ``#time`` goes through :meth:`JiraClient.add_worklog_once` keyed by the commit sha.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from jirabridge.errors import ApiError, JirabridgeError
from jirabridge.jira import JiraClient
from jirabridge.jira.adf import adf_to_text
from jirabridge.store.ledger import LedgerKey, WriteLedger
from jirabridge.store.models import LedgerState
from jirabridge.sync.devlinks.events import CommitRef
from jirabridge.sync.devlinks.links import LinkPlan, RemoteLinkSnapshot
from jirabridge.sync.devlinks.smart_commits import (
    SmartCommand,
    SmartCommandKind,
    SmartCommitPlan,
    SmartStep,
)
from jirabridge.sync.devlinks.smart_time import SmartTime, TimeSink

__all__ = [
    "SmartCommitState",
    "StepOutcome",
    "apply_link_plan",
    "apply_smart_commit_plan",
    "ledger_done",
    "read_link_state",
    "read_smart_commit_state",
]

#: Ledger kinds of the writes made here.
COMMENT_KIND = "devlink_comment"
WORKLOG_KIND = "smart_worklog"
TRANSITION_KIND = "smart_transition"
SMART_COMMENT_KIND = "smart_comment"


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What became of one planned write."""

    issue_key: str
    external_id: str
    kind: str
    status: str
    """``done``, ``already done`` or ``failed``."""
    detail: str = ""


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def read_link_state(
    jira: JiraClient, issue_keys: Iterable[str], global_id: str
) -> dict[str, RemoteLinkSnapshot]:
    """The remote link with ``global_id`` on each issue, where there is one.

    An issue Jira does not know (a key that only looked like one) is simply absent.
    """
    found: dict[str, RemoteLinkSnapshot] = {}
    for key in issue_keys:
        try:
            links = await jira.remote_links(key)
        except ApiError as exc:
            if exc.status == 404:
                continue
            raise
        for link in links:
            if link.global_id == global_id:
                obj = link.object
                found[key] = RemoteLinkSnapshot(
                    url=str(obj.get("url", "")),
                    title=str(obj.get("title", "")),
                    summary=obj.get("summary"),
                )
    return found


async def ledger_done(ledger: WriteLedger, site: str, kind: str, ids: Iterable[str]) -> set[str]:
    """The external ids the ledger holds as confirmed for ``kind``."""
    done: set[str] = set()
    for external_id in ids:
        entry = await ledger.get(LedgerKey(site, kind, external_id))
        if entry is not None and entry.state is LedgerState.CONFIRMED:
            done.add(external_id)
    return done


async def _once(
    ledger: WriteLedger,
    key: LedgerKey,
    fingerprint: str,
    target: str,
    write: Callable[[], Awaitable[str]],
    reconcile: Callable[[], Awaitable[str | None]],
) -> StepOutcome:
    intent = await ledger.record_intent(key, fingerprint=fingerprint, target=target)
    entry = intent.entry
    if not intent.created:
        if entry.state is LedgerState.CONFIRMED:
            return StepOutcome(target, key.external_id, key.kind, "already done")
        if entry.state is LedgerState.SENT:
            # The last answer was lost: Jira may hold the write already.
            remote = await reconcile()
            if remote is not None:
                await ledger.confirm(key, remote)
                return StepOutcome(target, key.external_id, key.kind, "already done")
    await ledger.mark_sent(key)
    try:
        remote_id = await write()
    except ApiError as exc:
        # A definite refusal: nothing was applied, so the entry may be retried later.
        await ledger.mark_failed(key, str(exc))
        return StepOutcome(target, key.external_id, key.kind, "failed", str(exc))
    await ledger.confirm(key, remote_id)
    return StepOutcome(target, key.external_id, key.kind, "done", remote_id)


async def apply_link_plan(
    plan: LinkPlan, *, jira: JiraClient, ledger: WriteLedger, site: str
) -> list[StepOutcome]:
    """Write the plan's remote links (idempotent by ``globalId``) and comments (once each)."""
    outcomes: list[StepOutcome] = []
    for link in plan.remote_links:
        try:
            await jira.add_remote_link(
                link.issue_key,
                url=link.url,
                title=link.title,
                summary=link.summary,
                global_id=link.global_id,
            )
        except ApiError as exc:
            outcomes.append(
                StepOutcome(link.issue_key, link.global_id, "remote_link", "failed", str(exc))
            )
            continue
        outcomes.append(StepOutcome(link.issue_key, link.global_id, "remote_link", "done"))
    for comment in plan.comments:

        async def write(key: str = comment.issue_key, body: str = comment.body) -> str:
            return (await jira.add_comment(key, body)).id or "unknown"

        async def reconcile(key: str = comment.issue_key, body: str = comment.body) -> str | None:
            return await _find_comment(jira, key, body)

        outcomes.append(
            await _once(
                ledger,
                LedgerKey(site, COMMENT_KIND, comment.external_id),
                _fingerprint(comment.body),
                comment.issue_key,
                write,
                reconcile,
            )
        )
    return outcomes


async def _find_comment(jira: JiraClient, key: str, text: str) -> str | None:
    wanted = " ".join(text.split())
    for existing in await jira.comments(key):
        body = existing.body
        rendered = adf_to_text(body) if isinstance(body, dict) else str(body or "")
        if existing.id and wanted in " ".join(rendered.split()):
            return existing.id
    return None


@dataclass(frozen=True, slots=True)
class SmartCommitState:
    """The Jira state a Smart Commit plan needs: users by email, transitions, ledger ids."""

    users_by_email: dict[str, list[str]]
    transitions: dict[str, dict[str, str]]
    already_done: set[str]


def _kind_for(kind: SmartCommandKind) -> str:
    return {
        SmartCommandKind.COMMENT: SMART_COMMENT_KIND,
        SmartCommandKind.TIME: WORKLOG_KIND,
        SmartCommandKind.TRANSITION: TRANSITION_KIND,
    }[kind]


async def read_smart_commit_state(
    commit: CommitRef,
    commands: Collection[SmartCommand],
    *,
    jira: JiraClient,
    ledger: WriteLedger,
    site: str,
) -> SmartCommitState:
    """Look up the commit author in Jira by email, the issues' transitions and the ledger."""
    users: dict[str, list[str]] = {}
    email = (commit.author_email or "").strip().lower()
    if email and commands:
        matches = await jira.search_users(email)
        users[email] = [
            u.identity for u in matches if (u.email_address or "").strip().lower() == email
        ]
    transitions: dict[str, dict[str, str]] = {}
    for key in {c.issue_key for c in commands if c.kind is SmartCommandKind.TRANSITION}:
        try:
            transitions[key] = {t.name: t.id for t in await jira.transitions(key)}
        except ApiError as exc:
            if exc.status != 404:
                raise
            transitions[key] = {}
    counters: dict[tuple[str, str], int] = {}
    done: set[str] = set()
    for command in commands:
        slot = (command.issue_key, command.kind.value)
        counters[slot] = counters.get(slot, 0) + 1
        external_id = (
            f"smart:{commit.sha}:{command.issue_key}:{command.kind.value}:{counters[slot]}"
        )
        done |= await ledger_done(ledger, site, _kind_for(command.kind), [external_id])
    return SmartCommitState(users, transitions, done)


def _smart_comment(step: SmartStep, commit: CommitRef) -> str:
    author = commit.author_name or commit.author_email or "unknown"
    return f"{step.comment}\n\n(Smart Commit {commit.sha[:12]} by {author}: {commit.url})"


async def apply_smart_commit_plan(
    plan: SmartCommitPlan,
    commit: CommitRef,
    *,
    jira: JiraClient,
    ledger: WriteLedger,
    site: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    time_sink: TimeSink | None = None,
) -> list[StepOutcome]:
    """Carry out each step once; a failing step is reported and the others still run.

    With a ``time_sink`` (the service passes the worklog engine), ``#time`` goes there;
    without one it is written with :meth:`JiraClient.add_worklog_once`.
    """
    outcomes: list[StepOutcome] = []
    for step in plan.steps:
        key = LedgerKey(site, _kind_for(step.kind), step.external_id)
        try:
            outcomes.append(await _apply_step(step, key, commit, jira, ledger, now, time_sink))
        except JirabridgeError as exc:
            outcomes.append(
                StepOutcome(step.issue_key, step.external_id, key.kind, "failed", str(exc))
            )
    return outcomes


async def _apply_step(
    step: SmartStep,
    key: LedgerKey,
    commit: CommitRef,
    jira: JiraClient,
    ledger: WriteLedger,
    now: Callable[[], datetime],
    time_sink: TimeSink | None = None,
) -> StepOutcome:
    issue = step.issue_key
    if step.kind is SmartCommandKind.COMMENT:
        body = _smart_comment(step, commit)

        async def write_comment() -> str:
            return (await jira.add_comment(issue, body)).id or "unknown"

        async def find_comment() -> str | None:
            return await _find_comment(jira, issue, body)

        return await _once(ledger, key, _fingerprint(body), issue, write_comment, find_comment)
    if step.kind is SmartCommandKind.TIME:
        started = step.started or now()
        seconds = step.seconds or 0

        if time_sink is not None:
            entry = SmartTime(step.external_id, issue, started, seconds, step.comment, commit.url)

            async def log_time() -> str:
                return await time_sink.log_time(entry)

            async def sink_is_idempotent() -> str | None:
                # The sink finds its own record again, so a lost answer is simply re-sent.
                return None

            fingerprint = _fingerprint(str(seconds), step.comment)
            return await _once(ledger, key, fingerprint, issue, log_time, sink_is_idempotent)

        async def write_worklog() -> str:
            worklog = await jira.add_worklog_once(
                issue,
                external_id=step.external_id,
                started=started,
                time_spent_seconds=seconds,
                comment=step.comment or None,
            )
            return str(worklog.id)

        async def find_worklog() -> str | None:
            found = await jira.find_worklog(issue, external_id=step.external_id, started=started)
            return None if found is None else str(found.id)

        fingerprint = _fingerprint(str(seconds), step.comment)
        return await _once(ledger, key, fingerprint, issue, write_worklog, find_worklog)

    transition_id = step.transition_id or ""

    async def write_transition() -> str:
        await jira.transition_issue(issue, transition_id)
        if step.comment:
            await jira.add_comment(issue, _smart_comment(step, commit))
        return transition_id

    async def transition_gone() -> str | None:
        # Applied already if it is no longer offered from the issue's new status.
        available = {t.id for t in await jira.transitions(issue)}
        return None if transition_id in available else transition_id

    return await _once(
        ledger, key, _fingerprint(transition_id), issue, write_transition, transition_gone
    )
