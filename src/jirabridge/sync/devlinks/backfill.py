"""Backfill: link the last N months of a repository's pull requests and commits to Jira.

Pull requests are replayed oldest first and a cursor (the last finished pull request number) is
saved after each one, so a crashed run resumes where it stopped and re-does at most one pull
request (every write is idempotent or ledgered, so that repeat is harmless). Transitions are
never fired while replaying history. A repository that fails is reported and the next one runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from jirabridge.errors import JirabridgeError, ValidationError
from jirabridge.github import GitHubClient
from jirabridge.github.models import Commit, PullRequest
from jirabridge.jira import JiraClient
from jirabridge.store.devlinks import DevLinkStore, StoredCursor
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.devlinks.events import CommitRef, PullRequestRef, PullRequestState
from jirabridge.sync.devlinks.intake import (
    DevLinkSettings,
    EventResult,
    link_pull_request,
    process_commit,
)
from jirabridge.sync.devlinks.smart_time import TimeSink

__all__ = [
    "BackfillCursor",
    "BackfillProgress",
    "BackfillReport",
    "CursorStore",
    "DbCursorStore",
    "MemoryCursorStore",
    "RepoOutcome",
    "backfill_repositories",
    "estimate_eta",
]


@dataclass(frozen=True, slots=True)
class BackfillCursor:
    """Where a repository's backfill stands."""

    repo: str
    last_number: int = 0
    processed: int = 0
    total: int = 0
    done: bool = False


class CursorStore(Protocol):
    """Keeps cursors across crashes (a database table in the service, a dict in tests)."""

    async def load(self, repo: str) -> BackfillCursor | None:
        """The saved cursor of ``repo``, if any."""
        ...

    async def save(self, cursor: BackfillCursor) -> None:
        """Persist ``cursor`` (replacing the previous one)."""
        ...


@dataclass
class MemoryCursorStore:
    """A :class:`CursorStore` in a dict."""

    cursors: dict[str, BackfillCursor] = field(default_factory=dict)

    async def load(self, repo: str) -> BackfillCursor | None:
        """The saved cursor of ``repo``, if any."""
        return self.cursors.get(repo)

    async def save(self, cursor: BackfillCursor) -> None:
        """Keep ``cursor``."""
        self.cursors[cursor.repo] = cursor


@dataclass(frozen=True, slots=True)
class DbCursorStore:
    """A :class:`CursorStore` over the owner-scoped database store (survives a crash)."""

    store: DevLinkStore

    async def load(self, repo: str) -> BackfillCursor | None:
        """The saved cursor of ``repo``, if any."""
        row = await self.store.load(repo)
        if row is None:
            return None
        return BackfillCursor(row.repo, row.last_number, row.processed, row.total, row.done)

    async def save(self, cursor: BackfillCursor) -> None:
        """Persist ``cursor``."""
        await self.store.save(
            StoredCursor(
                cursor.repo, cursor.last_number, cursor.processed, cursor.total, cursor.done
            )
        )


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """A progress report: how far, and the estimated seconds left (None until measurable)."""

    repo: str
    processed: int
    total: int
    eta_seconds: float | None


@dataclass(slots=True)
class RepoOutcome:
    """How one repository's backfill ended."""

    repo: str
    status: str
    """``done`` or ``failed``."""
    processed: int = 0
    links: int = 0
    error: str | None = None
    smart_commit_errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class BackfillReport:
    """Every repository's outcome."""

    repos: list[RepoOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[RepoOutcome]:
        """The repositories that failed."""
        return [r for r in self.repos if r.status == "failed"]


def estimate_eta(processed: int, total: int, elapsed_seconds: float) -> float | None:
    """Seconds left at the rate so far; None before the first item is done."""
    if processed <= 0 or elapsed_seconds < 0:
        return None
    return max(0.0, elapsed_seconds / processed * (total - processed))


def _pr_ref(repo: str, pr: PullRequest) -> PullRequestRef:
    if pr.merged:
        state = PullRequestState.MERGED
    elif pr.state == "closed":
        state = PullRequestState.CLOSED
    else:
        state = PullRequestState.OPEN
    return PullRequestRef(
        repo=repo,
        number=pr.number,
        title=pr.title,
        body=pr.body or "",
        branch=pr.head.ref,
        url=pr.html_url or f"https://github.com/{repo}/pull/{pr.number}",
        state=state,
        author=pr.user.login if pr.user else None,
    )


def _commit_ref(repo: str, commit: Commit) -> CommitRef:
    author = commit.git_author
    return CommitRef(
        repo=repo,
        sha=commit.sha,
        message=commit.message,
        url=commit.html_url or f"https://github.com/{repo}/commit/{commit.sha}",
        author_email=author.email if author else None,
        author_name=author.name if author else None,
        timestamp=author.date if author else None,
    )


async def _backfill_repo(
    repo: str,
    *,
    since: datetime,
    github: GitHubClient,
    jira: JiraClient,
    ledger: WriteLedger,
    settings: DevLinkSettings,
    cursors: CursorStore,
    clock: Callable[[], datetime],
    on_progress: Callable[[BackfillProgress], None],
    time_sink: TimeSink | None,
) -> RepoOutcome:
    outcome = RepoOutcome(repo, "done")
    cursor = await cursors.load(repo) or BackfillCursor(repo)
    if cursor.done:
        outcome.processed = cursor.processed
        return outcome
    pulls = [
        pr
        async for pr in github.list_pull_requests(repo, state="all")
        if pr.created_at is None or pr.created_at >= since
    ]
    pulls.sort(key=lambda pr: pr.number)
    todo = [pr for pr in pulls if pr.number > cursor.last_number]
    cursor = replace(cursor, total=cursor.processed + len(todo))
    started = clock()
    for done_now, pr in enumerate(todo, start=1):
        result = EventResult(event="backfill")
        ref = _pr_ref(repo, pr)
        await link_pull_request(
            ref, "backfill", result, jira=jira, ledger=ledger, settings=settings
        )
        async for commit in github.list_pull_request_commits(repo, pr.number):
            await process_commit(
                _commit_ref(repo, commit),
                result,
                jira=jira,
                ledger=ledger,
                settings=settings,
                time_sink=time_sink,
            )
        outcome.links += len(result.links)
        outcome.smart_commit_errors.update(result.errors)
        cursor = replace(cursor, last_number=pr.number, processed=cursor.processed + 1)
        await cursors.save(cursor)
        elapsed = (clock() - started).total_seconds()
        on_progress(
            BackfillProgress(
                repo,
                cursor.processed,
                cursor.total,
                estimate_eta(done_now, len(todo), elapsed),
            )
        )
    await cursors.save(replace(cursor, done=True))
    outcome.processed = cursor.processed
    return outcome


async def backfill_repositories(
    repos: Sequence[str],
    *,
    months: int,
    github: GitHubClient,
    jira: JiraClient,
    ledger: WriteLedger,
    settings: DevLinkSettings,
    cursors: CursorStore,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_progress: Callable[[BackfillProgress], None] = lambda _: None,
    time_sink: TimeSink | None = None,
) -> BackfillReport:
    """Backfill each repository in turn; a failing one is reported, the rest still run.

    ``settings.allow_transitions`` is forced off: history is replayed, not re-lived.
    """
    if months < 1:
        raise ValidationError("backfill needs at least one month of history")
    replay = replace(settings, allow_transitions=False, comment_on=())
    since = clock() - timedelta(days=30 * months)
    report = BackfillReport()
    for repo in repos:
        try:
            outcome = await _backfill_repo(
                repo,
                since=since,
                github=github,
                jira=jira,
                ledger=ledger,
                settings=replay,
                cursors=cursors,
                clock=clock,
                on_progress=on_progress,
                time_sink=time_sink,
            )
        except JirabridgeError as exc:
            saved = await cursors.load(repo)
            outcome = RepoOutcome(
                repo, "failed", processed=saved.processed if saved else 0, error=str(exc)
            )
        report.repos.append(outcome)
    return report
