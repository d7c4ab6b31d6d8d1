"""A worker process for the export crash test (run as a script, not collected by pytest).

``crash_export_worker.py start CONFIG.json``: launch the job engine, enqueue the recorded
export named in the config, and die (SIGKILL, no clean-up) right after Jira has applied the
``kill_after``-th bulk create and before this process has heard the answer.
``crash_export_worker.py resume CONFIG.json``: launch again with the same executor id; DBOS
recovers the export's workflow; wait for it and print its counts as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from jirabridge.http import HttpClient
from jirabridge.jira import DeploymentType, JiraClient
from jirabridge.jobs.engine import JobEngine, JobsConfig
from jirabridge.jobs.ids import workflow_id
from jirabridge.store.db import make_engine, session_factory
from jirabridge.sync.stories import jobs

from support.crash import KillAfterAnswered


async def main(mode: str, config_path: str) -> None:
    config: dict[str, Any] = json.loads(Path(config_path).read_text())
    engine = make_engine(config["app_db"])
    sessions = session_factory(engine)
    # One transport for the whole run: the count spans every client the workflow opens.
    transport = KillAfterAnswered(
        "POST", "/issue/bulk", config["kill_after"] if mode == "start" else None
    )

    @asynccontextmanager
    async def provider(connection_id: str) -> AsyncIterator[JiraClient]:
        http = HttpClient(
            config["sim_url"],
            auth=httpx.BasicAuth(config["email"], config["token"]),
            transport=transport,
        )
        cloud = config["flavor"] == "cloud"
        deployment = DeploymentType.CLOUD if cloud else DeploymentType.DATA_CENTER
        jira = JiraClient(config["sim_url"], http=http, deployment=deployment)
        try:
            yield jira
        finally:
            await jira.aclose()

    jobs.configure(sessions, provider)
    job_engine = JobEngine(
        JobsConfig(
            system_database_url=config["jobs_db"],
            application_version="export-crash-1",
            executor_id="export-crash-executor",
            polling_interval_sec=0.05,
            log_level="WARNING",
        )
    )
    await job_engine.launch()
    export_id = config["export_id"]
    if mode == "start":
        await jobs.enqueue_export(job_engine, export_id, config["site"])
        await asyncio.Event().wait()  # killed from inside the transport
    handle = await job_engine.handle(workflow_id("story-export", export_id))
    counts = await handle.result()
    print(json.dumps(counts), flush=True)
    await job_engine.shutdown()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
