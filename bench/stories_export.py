"""Export 1,000 stories under 20 epics to the in-process simulator, ``clean`` and ``faulty``.

Counts the HTTP calls the export made (the simulator's own request counter), checks every item
landed exactly once (by the stamped external id), and compares calls with the minimum
(``ceil(epics / 50) + ceil(stories / 50)`` bulk creates). Time runs on the simulator's clock:
the client's waits (retries, reconcile polls) advance it, so faults cost no wall time.

Usage: ``.venv/bin/python -m bench.stories_export [--flavor cloud|datacenter] [--seed N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from jirabridge.http.client import HttpClient
from jirabridge.jira import DeploymentType, JiraClient
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.ledger import WriteLedger
from jirabridge.store.migrations import upgrade_async
from jirabridge.sync.stories import ExportProfile, apply_export, parse_stories, plan_export

BASE = "http://sim.test"


class SimTime:
    """An HTTP-core clock that is the simulator's clock: sleeping moves it forward."""

    def __init__(self, runtime: SimRuntime) -> None:
        self._clock = runtime.clock

    def time(self) -> float:
        return self._clock.time()

    def monotonic(self) -> float:
        return self._clock.time()

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._clock.advance(seconds)
        await asyncio.sleep(0)


def stories_yaml(epics: int, per_epic: int) -> str:
    lines = ["epics:"]
    for e in range(epics):
        lines += [f"  - id: E{e}", f"    title: Epic {e}", "    stories:"]
        for s in range(per_epic):
            lines += [
                f"      - id: S{e}-{s}",
                f"        title: Story {e}-{s}",
                "        story: As a user I want this so that it works",
                "        acceptance_criteria: [It works, It is fast]",
                "        points: 3",
            ]
    return "\n".join(lines) + "\n"


async def run(
    profile_name: str, flavor: str, seed: int, epics: int, per_epic: int
) -> dict[str, Any]:
    app = create_sim_app(
        SimConfig(
            flavor=flavor, profile=profile_name, base_url=BASE, frozen_at=1_795_000_000.0, seed=seed
        )  # type: ignore[arg-type]
    )
    runtime: SimRuntime = app.state.sim
    clock = SimTime(runtime)
    http = HttpClient(
        BASE,
        auth=httpx.BasicAuth(runtime.admin_email, runtime.admin_token),
        transport=httpx.ASGITransport(app=app),
        headers={"Accept": "application/json"},
        clock=clock,
    )
    deployment = DeploymentType.CLOUD if flavor == "cloud" else DeploymentType.DATA_CENTER
    jira = JiraClient(BASE, http=http, deployment=deployment, sleep=clock.sleep)
    project = next(iter(runtime.site.projects.values())).key
    profile = ExportProfile(namespace="bench", project=project, flavor=flavor)  # type: ignore[arg-type]
    stories = parse_stories(stories_yaml(epics, per_epic), "yaml")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_async(url)
        engine = make_engine(url)
        ledger = WriteLedger(session_factory(engine))
        before = sum(runtime.requests.values())
        started = time.perf_counter()
        plan = plan_export(stories, profile)
        result = await apply_export(plan, jira=jira, ledger=ledger, site="bench", sleep=clock.sleep)
        wall = time.perf_counter() - started
        calls = sum(runtime.requests.values()) - before
        await engine.dispose()
    await jira.aclose()
    stamped: dict[str, int] = {}
    for issue in runtime.site.issues.values():
        value = issue.properties.get("jirabridge.external-id")
        if isinstance(value, dict) and "externalId" in value:
            stamped[str(value["externalId"])] = stamped.get(str(value["externalId"]), 0) + 1
    wanted = {f"bench/{i.id}" for i in [*stories.epics, *stories.stories]}
    minimum = math.ceil(epics / 50) + math.ceil(epics * per_epic / 50)
    return {
        "profile": profile_name,
        "flavor": flavor,
        "items": len(wanted),
        "calls": calls,
        "minimum": minimum,
        "ratio": calls / minimum,
        "duplicates": sum(1 for n in stamped.values() if n > 1),
        "missing": len(wanted - stamped.keys()),
        "failed": result.counts().get("failed", 0) + result.counts().get("unknown", 0),
        "wall_s": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flavor", default="cloud", choices=["cloud", "datacenter"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epics", type=int, default=20)
    parser.add_argument("--per-epic", type=int, default=50)
    args = parser.parse_args()
    for name in ("clean", "faulty"):
        print(asyncio.run(run(name, args.flavor, args.seed, args.epics, args.per_epic)))


if __name__ == "__main__":
    main()
