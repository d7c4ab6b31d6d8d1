"""A worker process for the worklog crash test (run as a script, not collected by pytest).

``crash_sync_worker.py start CONFIG.json``: launch the job engine, start a bulk run of the
records named in the config, and die (SIGKILL, no clean-up) right after Jira has applied the
``kill_after``-th worklog POST and before this process has recorded the answer.
``crash_sync_worker.py resume CONFIG.json``: launch again with the same executor id; DBOS
recovers the run; wait for it and print its summary as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from jirabridge.http import HttpClient
from jirabridge.jira import JiraClient
from jirabridge.jobs.engine import JobEngine, JobsConfig
from jirabridge.jobs.ids import workflow_id
from jirabridge.store.db import make_engine, session_factory
from jirabridge.sync.worklogs import jobs
from jirabridge.sync.worklogs.executor import WorklogSync

posts_answered = 0


class DieAfterApplied(httpx.AsyncBaseTransport):
    """Passes requests on; kills the process once the n-th worklog POST was applied."""

    def __init__(self, kill_after: int | None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.kill_after = kill_after

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        global posts_answered
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/worklog"):
            posts_answered += 1
            if self.kill_after is not None and posts_answered >= self.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def main(mode: str, config_path: str) -> None:
    config: dict[str, Any] = json.loads(Path(config_path).read_text())
    engine = make_engine(config["app_db"])
    sessions = session_factory(engine)
    kill_after = config["kill_after"] if mode == "start" else None

    @asynccontextmanager
    async def provider(site: str) -> AsyncIterator[WorklogSync]:
        http = HttpClient(
            config["sim_url"],
            auth=httpx.BasicAuth(config["email"], config["token"]),
            transport=DieAfterApplied(kill_after),
        )
        jira = JiraClient(config["sim_url"], http=http, api_version=3)
        try:
            yield WorklogSync(sessions, jira, site=site)
        finally:
            await jira.aclose()

    jobs.configure(sessions, provider)
    job_engine = JobEngine(
        JobsConfig(
            system_database_url=config["jobs_db"],
            application_version="worklog-crash-1",
            executor_id="worklog-crash-executor",
            polling_interval_sec=0.05,
            log_level="WARNING",
        )
    )
    await job_engine.launch()
    if mode == "start":
        run_id, _ = await jobs.start_run(
            job_engine,
            sessions,
            connection_id=config["site"],
            record_ids=config["record_ids"],
            owner_user_id=config["owner"],
        )
        Path(config["run_id_file"]).write_text(run_id)
        await asyncio.Event().wait()  # killed from inside the transport
    run_id = Path(config["run_id_file"]).read_text()
    handle = await job_engine.handle(workflow_id("worklog-run", run_id))
    summary = await handle.result()
    print(json.dumps(summary), flush=True)
    await job_engine.shutdown()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
