"""A worker process for the crash-recovery test (run as a script, not collected by pytest).

``crash_worker.py start URL DIR``: launch, start the two-step workflow, and hang inside step
two until the test kills the process. ``crash_worker.py resume URL DIR``: launch again (DBOS
recovers the interrupted workflow), wait for its result and print it as JSON.

Each step appends a line to a marker file in DIR (flushed and fsynced), so the test can count
exactly how many times each step body ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from jirabridge.jobs import registry
from jirabridge.jobs.engine import JobEngine, JobsConfig

WORKFLOW_ID = "crash-test:two-steps"
HOLD_IN_STEP_TWO = os.environ.get("JB_CRASH_HOLD") == "1"


def mark(directory: str, name: str) -> None:
    with (Path(directory) / name).open("a") as marker:
        marker.write("ran\n")
        marker.flush()
        os.fsync(marker.fileno())


@registry.step()
async def step_one(directory: str) -> int:
    mark(directory, "step1")
    return 1


@registry.step()
async def step_two(directory: str) -> int:
    mark(directory, "step2-started")
    if HOLD_IN_STEP_TWO:
        await asyncio.Event().wait()  # the test kills the process here
    mark(directory, "step2-done")
    return 2


@registry.workflow("crash-test.two-steps")
async def two_steps(directory: str) -> int:
    first = await step_one(directory)
    second = await step_two(directory)
    return first + second


async def main(mode: str, url: str, directory: str) -> None:
    engine = JobEngine(
        JobsConfig(
            system_database_url=url,
            application_version="crash-test-1",
            executor_id="crash-test-executor",
            polling_interval_sec=0.05,
            log_level="WARNING",
        )
    )
    await engine.launch()
    if mode == "start":
        await engine.start(WORKFLOW_ID, two_steps, directory)
        await asyncio.Event().wait()
    handle = await engine.handle(WORKFLOW_ID)
    result = await handle.result()
    status = await handle.status()
    print(json.dumps({"result": result, "state": status.state}), flush=True)
    await engine.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
