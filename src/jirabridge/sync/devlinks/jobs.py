"""GitHub-and-Jira work as durable workflows: webhook deliveries and backfills.

The webhook processor (:mod:`jirabridge.service.webhook_worker`) runs handlers inside the
transaction that marks a delivery done, so a handler must not call out to Jira or GitHub
itself. :func:`install_handlers` registers handlers that only *enqueue* a workflow (on the
Jira connection's partition); the workflow's single step then plans and applies what the
delivery means. Every write of that step goes through the write ledger or is idempotent by
``globalId``, so a step run twice (crash, replay) writes once.

A backfill is one workflow per request with one step per repository. Each step resumes from
the repository's cursor, so a process killed mid-repository carries on after the last
finished pull request, and never fires transitions.

Live resources (database, Jira and GitHub clients, the job engine) cannot travel in workflow
arguments: the process provides them once through :func:`configure`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ConfigError, NotFoundError
from jirabridge.github import GitHubClient
from jirabridge.github.webhooks import parse_github_delivery
from jirabridge.jira import JiraClient
from jirabridge.jobs import registry
from jirabridge.jobs.engine import JobEngine, JobHandle
from jirabridge.jobs.ids import workflow_id
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.devlink_models import BackfillCursorRow, BackfillRunRow, GitHubConnectionRow
from jirabridge.store.devlinks import DevLinkStore, OwnerRef
from jirabridge.store.github_connections import GitHubConnection
from jirabridge.store.ledger import WriteLedger
from jirabridge.store.models import utcnow
from jirabridge.store.webhook_models import WebhookDeliveryRow, WebhookSource
from jirabridge.sync.devlinks.backfill import DbCursorStore, backfill_repositories, estimate_eta
from jirabridge.sync.devlinks.intake import DevLinkSettings, GitHubDelivery, handle_github_event
from jirabridge.sync.devlinks.smart_time import WorklogEngineTime
from jirabridge.sync.dispatch import DeliveryContext, HandlerRegistry
from jirabridge.sync.triage.intake import triage_event
from jirabridge.sync.triage.rules import load_rules

__all__ = [
    "BACKFILL_QUEUE",
    "EVENTS_QUEUE",
    "GITHUB_EVENTS",
    "DevLinkResources",
    "backfill_progress",
    "backfill_run",
    "backfill_workflow_id",
    "configure",
    "delivery_run",
    "install_handlers",
    "start_backfill",
]

#: Deliveries of one Jira site run one at a time, in arrival order: a PR opened then merged
#: must not race its own remote-link update.
EVENTS_QUEUE = registry.declare_site_queue("devlinks-events", per_site_concurrency=1)
#: Backfills are long; they get their own queue so live deliveries never wait behind one.
BACKFILL_QUEUE = registry.declare_site_queue("devlinks-backfill", per_site_concurrency=1)

#: The GitHub events this feature acts on (``issues`` only when triage rules are set).
GITHUB_EVENTS: tuple[str, ...] = ("pull_request", "push", "issues")


class DevLinkResources(Protocol):
    """What the workflows need from the running process."""

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The application database."""
        ...

    def jira(self, jira_connection_id: str) -> AbstractAsyncContextManager[JiraClient]:
        """A Jira client of the connection (closed on exit)."""
        ...

    def github(
        self, owner_key: str, connection_id: str
    ) -> AbstractAsyncContextManager[GitHubClient]:
        """A GitHub client of the owner's GitHub connection (closed on exit)."""
        ...

    async def connection(self, owner_key: str, connection_id: str) -> GitHubConnection:
        """The owner's GitHub connection (NotFoundError if it is gone)."""
        ...

    def now(self) -> datetime:
        """The current time (injectable for tests)."""
        ...


_resources: DevLinkResources | None = None
_engine: JobEngine | None = None


def configure(resources: DevLinkResources | None = None, *, jobs: JobEngine | None = None) -> None:
    """Give this process's workflows their resources and the handlers their job engine."""
    global _resources, _engine
    if resources is not None:
        _resources = resources
    if jobs is not None:
        _engine = jobs


def _configured() -> DevLinkResources:
    if _resources is None:
        raise ConfigError("GitHub-and-Jira jobs are not configured in this process")
    return _resources


def _jobs() -> JobEngine:
    if _engine is None:
        raise ConfigError("no job engine in this process to run GitHub-and-Jira work")
    return _engine


def _settings(connection: GitHubConnection) -> DevLinkSettings:
    if connection.jira_connection_id is None:
        raise ConfigError(f"GitHub connection {connection.name!r} has no Jira connection")
    return DevLinkSettings(
        site=connection.jira_connection_id,
        projects=connection.project_keys or None,
    )


# -- deliveries ------------------------------------------------------------------------------


async def _load_delivery(
    sessions: async_sessionmaker[AsyncSession], delivery_pk: int
) -> WebhookDeliveryRow:
    async with read_transaction(sessions) as session:
        row = await session.get(WebhookDeliveryRow, delivery_pk)
    if row is None:
        raise NotFoundError(f"webhook delivery {delivery_pk} is gone")
    return row


@registry.step(name="devlinks.process-delivery", retries=2, retry_interval_sec=1.0)
async def process_delivery(owner_key: str, connection_id: str, delivery_pk: int) -> dict[str, Any]:
    """Plan and apply one delivery for one GitHub connection; a JSON-ready summary."""
    resources = _configured()
    sessions = resources.sessions
    row = await _load_delivery(sessions, delivery_pk)
    connection = await resources.connection(owner_key, connection_id)
    settings = _settings(connection)
    ledger = WriteLedger(sessions)
    store = DevLinkStore(sessions, owner_key)
    headers = {str(k): str(v) for k, v in row.headers.items()}
    summary: dict[str, Any] = {"event": row.event, "delivery": row.delivery_id}
    async with resources.jira(settings.site) as jira:
        if row.source == WebhookSource.GITHUB and row.event in ("pull_request", "push"):
            parsed = parse_github_delivery(headers, row.body)
            result = await handle_github_event(
                GitHubDelivery(parsed.event, parsed.delivery_id, parsed.payload),
                jira=jira,
                ledger=ledger,
                settings=settings,
                store=store,
                time_sink=WorklogEngineTime(sessions, jira, settings.site, store.owner),
            )
            summary["links"] = [f"{link.issue_key}:{link.ref}" for link in result.links]
            summary["outcomes"] = [asdict(o) for o in result.outcomes]
            summary["errors"] = result.errors
            return summary
        rules = load_rules(connection.triage_rules or "")
        if row.source == WebhookSource.GITHUB:
            payload = parse_github_delivery(headers, row.body).payload
            source = "github"
        else:
            payload = json.loads(row.body)
            source = "jira"
        async with resources.github(owner_key, connection_id) as github:
            plan, log = await triage_event(
                source,
                payload,
                rules=rules,
                ledger=ledger,
                site=settings.site,
                store=store,
                jira=jira,
                github=github,
                repos=connection.repos,
                label=connection.triage_label,
                connection_id=connection.id,
            )
    summary["bug"] = None if plan is None else plan.bug.ref
    summary["actions"] = [asdict(entry) for entry in log]
    return summary


@registry.workflow("devlinks.delivery")
async def delivery_run(owner_key: str, connection_id: str, delivery_pk: int) -> dict[str, Any]:
    """One delivery for one GitHub connection (one durable step)."""
    return await process_delivery(owner_key, connection_id, delivery_pk)


async def _enqueue_delivery(context: DeliveryContext, row: GitHubConnectionRow) -> None:
    site = row.jira_connection_id
    if site is None:
        return  # nothing to write to: the connection is not finished yet
    stamp = (context.delivery.processed_at or context.now).strftime("%Y%m%dT%H%M%S%f")
    await _jobs().enqueue(
        EVENTS_QUEUE,
        site,
        # A replayed delivery is processed again on purpose; the ledger keeps writes single.
        workflow_id("devlinks-delivery", row.id, context.delivery.id, stamp),
        delivery_run,
        row.owner_key,
        row.id,
        context.delivery.id,
    )


async def on_github_delivery(context: DeliveryContext) -> None:
    """Handler for ``github:pull_request|push|issues``: enqueue the delivery's workflow."""
    row = await context.session.scalar(
        select(GitHubConnectionRow).where(
            GitHubConnectionRow.webhook_endpoint_id == context.endpoint.id
        )
    )
    if row is None:
        return  # an endpoint of the webhook feature alone, not of a GitHub connection
    if context.delivery.event == "issues":
        action = context.parsed.payload.get("action")
        if not row.triage_rules or action not in ("opened", "labeled"):
            return
    await _enqueue_delivery(context, row)


async def on_jira_issue_created(context: DeliveryContext) -> None:
    """Handler for ``jira:issue_created``: triage it for every GitHub connection with rules
    that writes to this Jira connection and belongs to the endpoint's owner."""
    jira_connection_id = context.endpoint.connection_id
    if jira_connection_id is None:
        return
    owner = OwnerRef.parse(context.endpoint.owner_ref)
    rows = await context.session.scalars(
        select(GitHubConnectionRow).where(
            GitHubConnectionRow.jira_connection_id == jira_connection_id,
            GitHubConnectionRow.triage_rules.is_not(None),
            owner.where(GitHubConnectionRow),
        )
    )
    for row in rows:
        await _enqueue_delivery(context, row)


def install_handlers(handlers: HandlerRegistry) -> None:
    """Register the GitHub-and-Jira handlers with the webhook processor."""
    for event in GITHUB_EVENTS:
        handlers.register(f"github:{event}", on_github_delivery)
    handlers.register("jira:issue_created", on_jira_issue_created)


# -- backfill --------------------------------------------------------------------------------


@registry.step(name="devlinks.backfill-repo", retries=2, retry_interval_sec=1.0)
async def backfill_repo(
    owner_key: str, connection_id: str, repo: str, months: int
) -> dict[str, Any]:
    """Backfill one repository from its cursor; its outcome (``done`` or ``failed``)."""
    resources = _configured()
    connection = await resources.connection(owner_key, connection_id)
    settings = _settings(connection)
    store = DevLinkStore(resources.sessions, owner_key)
    async with (
        resources.jira(settings.site) as jira,
        resources.github(owner_key, connection_id) as github,
    ):
        report = await backfill_repositories(
            [repo],
            months=months,
            github=github,
            jira=jira,
            ledger=WriteLedger(resources.sessions),
            settings=settings,
            cursors=DbCursorStore(store),
            clock=resources.now,
            time_sink=WorklogEngineTime(resources.sessions, jira, settings.site, store.owner),
        )
    return asdict(report.repos[0])


@registry.step(name="devlinks.finish-backfill")
async def finish_backfill(run_id: str, outcomes: list[dict[str, Any]]) -> None:
    """Store the run's report."""
    resources = _configured()
    async with write_transaction(resources.sessions) as session:
        run = await session.get(BackfillRunRow, run_id)
        if run is not None:
            failed = [o for o in outcomes if o["status"] == "failed"]
            run.status = "failed" if failed and len(failed) == len(outcomes) else "finished"
            run.report = {"repos": outcomes}
            run.finished_at = utcnow()


@registry.workflow("devlinks.backfill")
async def backfill_run(
    run_id: str, owner_key: str, connection_id: str, repos: list[str], months: int
) -> dict[str, Any]:
    """A backfill request: one durable step per repository, then the report."""
    outcomes = [await backfill_repo(owner_key, connection_id, repo, months) for repo in repos]
    await finish_backfill(run_id, outcomes)
    return {"run_id": run_id, "repos": outcomes}


def backfill_workflow_id(run_id: str) -> str:
    """The workflow id of backfill run ``run_id``."""
    return workflow_id("devlinks-backfill", run_id)


async def start_backfill(
    jobs: JobEngine,
    sessions: async_sessionmaker[AsyncSession],
    connection: GitHubConnection,
    *,
    repos: list[str],
    months: int,
    new_id: Callable[[], str],
) -> tuple[str, JobHandle[dict[str, Any]]]:
    """Record a backfill run, reset its repositories' cursors, enqueue it; the run id.

    Resetting happens here, never in the workflow: a resumed run must keep its cursors.
    """
    if connection.jira_connection_id is None:
        raise ConfigError(f"GitHub connection {connection.name!r} has no Jira connection")
    owner = OwnerRef.parse(connection.owner_key)
    run_id = new_id()
    async with write_transaction(sessions) as session:
        session.add(
            BackfillRunRow(
                id=run_id,
                **owner.columns(),
                connection_id=connection.id,
                repos=repos,
                months=months,
                status="running",
            )
        )
        await session.execute(
            delete(BackfillCursorRow).where(
                owner.where(BackfillCursorRow), BackfillCursorRow.repo.in_(repos)
            )
        )
    handle = await jobs.enqueue(
        BACKFILL_QUEUE,
        connection.jira_connection_id,
        backfill_workflow_id(run_id),
        backfill_run,
        run_id,
        connection.owner_key,
        connection.id,
        repos,
        months,
    )
    return run_id, handle


async def backfill_progress(
    sessions: async_sessionmaker[AsyncSession], owner_key: str, run_id: str, now: datetime
) -> dict[str, Any]:
    """Where an owner's run stands: per repository and overall, with an ETA in seconds.

    The ETA is the rate so far applied to what is left (None until a pull request is done).
    Another owner's run is "not found".
    """
    owner = OwnerRef.parse(owner_key)
    async with read_transaction(sessions) as session:
        run = await session.scalar(
            select(BackfillRunRow).where(BackfillRunRow.id == run_id, owner.where(BackfillRunRow))
        )
        if run is None:
            raise NotFoundError("no such backfill run")
        cursors = {
            c.repo: c
            for c in await session.scalars(
                select(BackfillCursorRow).where(
                    owner.where(BackfillCursorRow), BackfillCursorRow.repo.in_(run.repos)
                )
            )
        }
    failed = {
        o["repo"]: o.get("error")
        for o in (run.report or {}).get("repos", [])
        if o["status"] == "failed"
    }
    repos = []
    for repo in run.repos:
        cursor = cursors.get(repo)
        repos.append(
            {
                "repo": repo,
                "processed": cursor.processed if cursor else 0,
                "total": cursor.total if cursor else 0,
                "done": bool(cursor and cursor.done),
                "error": failed.get(repo),
            }
        )
    processed = sum(r["processed"] for r in repos)
    total = sum(r["total"] for r in repos)
    elapsed = (now - run.created_at).total_seconds()
    finished = run.status != "running"
    return {
        "run_id": run.id,
        "connection_id": run.connection_id,
        "status": run.status,
        "months": run.months,
        "processed": processed,
        "total": total,
        "eta_seconds": 0.0 if finished else estimate_eta(processed, total, elapsed),
        "repos": repos,
        "report": run.report,
    }
