"""A worker process for the backfill crash test (run as a script, not collected by pytest).

``crash_backfill_worker.py start CONFIG.json``: launch the job engine, start a backfill run,
and die (SIGKILL) right after Jira applied the ``kill_after``-th POST, before this process
recorded the answer. ``crash_backfill_worker.py resume CONFIG.json``: launch again with the
same executor id; DBOS recovers the run; wait for it and print its result as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from github.conftest import TOKEN, FakeGitHub
from jirabridge.github import GitHubClient
from jirabridge.http import HttpClient
from jirabridge.jira import JiraClient
from jirabridge.jobs.engine import JobEngine, JobsConfig
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.github_connections import GitHubConnection
from jirabridge.sync.devlinks import jobs

posts = 0


class DieAfterApplied(httpx.AsyncBaseTransport):
    """Passes requests on; kills the process once the n-th POST was applied."""

    def __init__(self, kill_after: int | None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.kill_after = kill_after

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        global posts
        response = await self.inner.handle_async_request(request)
        if request.method == "POST":
            posts += 1
            if self.kill_after is not None and posts >= self.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def fake_github(config: dict[str, Any]) -> FakeGitHub:
    fake = FakeGitHub()
    for title, branch, commits in config["pulls"]:
        fake.add_pull(title, branch, commits)
    for commits in fake.pull_commits.values():
        for c in commits:
            c["commit"]["author"]["email"] = config["author_email"]
    return fake


class Resources:
    def __init__(
        self,
        config: dict[str, Any],
        sessions: async_sessionmaker[AsyncSession],
        kill_after: int | None,
    ) -> None:
        self.config = config
        self._sessions = sessions
        self.kill_after = kill_after
        self.fake = fake_github(config)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    @asynccontextmanager
    async def jira(self, jira_connection_id: str) -> AsyncIterator[JiraClient]:
        http = HttpClient(
            self.config["sim_url"],
            auth=httpx.BasicAuth(self.config["email"], self.config["token"]),
            transport=DieAfterApplied(self.kill_after),
        )
        client = JiraClient(self.config["sim_url"], http=http, api_version=3)
        try:
            yield client
        finally:
            await client.aclose()

    @asynccontextmanager
    async def github(self, owner_key: str, connection_id: str) -> AsyncIterator[GitHubClient]:
        async with GitHubClient(token=TOKEN, transport=self.fake.transport()) as client:
            yield client

    async def connection(self, owner_key: str, connection_id: str) -> GitHubConnection:
        return self.connection_now()

    def connection_now(self) -> GitHubConnection:
        c = self.config
        return GitHubConnection(
            c["connection_id"],
            c["owner_key"],
            "Octo",
            "token",
            None,
            None,
            ("octo/hello",),
            (),
            None,
            c["jira_connection_id"],
            None,
            None,
        )

    def now(self) -> datetime:
        return datetime(2026, 11, 20, 12, tzinfo=UTC)


async def main(mode: str, config_path: str) -> None:
    config: dict[str, Any] = json.loads(Path(config_path).read_text())
    engine = make_engine(config["app_db"])
    sessions = session_factory(engine)
    resources = Resources(config, sessions, config["kill_after"] if mode == "start" else None)
    job_engine = JobEngine(
        JobsConfig(
            system_database_url=config["jobs_db"],
            application_version="backfill-crash-1",
            executor_id="backfill-crash-executor",
            polling_interval_sec=0.05,
            log_level="WARNING",
        )
    )
    jobs.configure(resources, jobs=job_engine)
    await job_engine.launch()
    if mode == "start":
        run_id, _ = await jobs.start_backfill(
            job_engine,
            sessions,
            resources.connection_now(),
            repos=["octo/hello"],
            months=3,
            new_id=lambda: str(uuid.uuid4()),
        )
        Path(config["run_id_file"]).write_text(run_id)
        await asyncio.Event().wait()  # killed from inside the transport
    run_id = Path(config["run_id_file"]).read_text()
    handle = await job_engine.handle(jobs.backfill_workflow_id(run_id))
    print(json.dumps(await handle.result()), flush=True)
    await job_engine.shutdown()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
