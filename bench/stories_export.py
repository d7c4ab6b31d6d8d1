"""Export 1,000 stories under 20 epics to the in-process simulator, ``clean`` and ``faulty``.

Counts the HTTP calls the export made (the simulator's own request counter), checks every item
landed exactly once (by the stamped external id), and compares calls with the minimum
(``ceil(epics / 50) + ceil(stories / 50)`` bulk creates). Time runs on the simulator's clock:
the client's waits (retries, reconcile polls) advance it, so faults cost no wall time.

``--recorded`` runs the export the way the service does (``sync.stories.jobs``: the plan
stored with an export row, one outcome row written per item as results arrive) instead of a
bare ``apply_export``, to show what history and progress cost; CPU seconds are this process's
(the simulator runs in it too).

Usage: ``.venv/bin/python -m bench.stories_export [--flavor cloud|datacenter] [--seed N]
[--recorded]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.http.client import HttpClient
from jirabridge.jira import DeploymentType, JiraClient
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.store.accounts import UserRepository
from jirabridge.store.db import make_engine, session_factory, write_transaction
from jirabridge.store.ledger import WriteLedger
from jirabridge.store.migrations import upgrade_async
from jirabridge.sync.stories import (
    ExportPlan,
    ExportProfile,
    apply_export,
    parse_stories,
    plan_export,
)
from jirabridge.sync.stories.jobs import record_export, run_export

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


@asynccontextmanager
async def _same_client(jira: JiraClient) -> AsyncIterator[JiraClient]:
    yield jira


async def _recorded(
    sessions: async_sessionmaker[AsyncSession], plan: ExportPlan, jira: JiraClient
) -> dict[str, int]:
    async with write_transaction(sessions) as session:
        user = await UserRepository(session).create(email="bench@x.io", password_hash=None)
        owner = user.id
    export_id = await record_export(
        sessions,
        plan,
        owner_user_id=owner,
        actor_user_id=owner,
        connection_id="bench",
        site="bench",
        base_url=BASE,
        profile_id=None,
        profile_name="bench",
        file_name="bench.yaml",
        file_hash="0" * 64,
    )
    return await run_export(export_id, sessions=sessions, provider=lambda _: _same_client(jira))


async def run(
    profile_name: str, flavor: str, seed: int, epics: int, per_epic: int, recorded: bool = False
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
    jira = JiraClient(BASE, http=http, deployment=deployment)
    project = next(iter(runtime.site.projects.values())).key
    profile = ExportProfile(namespace="bench", project=project, flavor=flavor)  # type: ignore[arg-type]
    stories = parse_stories(stories_yaml(epics, per_epic), "yaml")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_async(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        ledger = WriteLedger(sessions)
        before = runtime.requests.copy()
        started = time.perf_counter()
        cpu_started = time.process_time()
        plan = plan_export(stories, profile)
        if recorded:
            counts = await _recorded(sessions, plan, jira)
        else:
            result = await apply_export(plan, jira=jira, ledger=ledger, site="bench")
            counts = result.counts()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        made = runtime.requests - before
        calls = sum(made.values())
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
        "recorded": recorded,
        "failed": counts.get("failed", 0) + counts.get("unknown", 0),
        "wall_s": round(wall, 2),
        "cpu_ms_per_item": round(cpu * 1000 / len(wanted), 2),
        "faults": dict(runtime.edges.faults.counters),
        "by_route": {f"{m} {t} {st}": n for (m, t, st), n in sorted(made.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flavor", default="cloud", choices=["cloud", "datacenter"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1, help="run seeds seed..seed+N-1")
    parser.add_argument("--profiles", default="clean,faulty")
    parser.add_argument("--epics", type=int, default=20)
    parser.add_argument("--per-epic", type=int, default=50)
    parser.add_argument("--recorded", action="store_true", help="Go through sync.stories.jobs.")
    args = parser.parse_args()
    for name in args.profiles.split(","):
        rows = []
        for seed in range(args.seed, args.seed + args.seeds):
            row = asyncio.run(
                run(name, args.flavor, seed, args.epics, args.per_epic, args.recorded)
            )
            print({"seed": seed, **row})
            rows.append(row)
        if len(rows) > 1:
            calls = [r["calls"] for r in rows]
            print(
                {
                    "profile": name,
                    "flavor": args.flavor,
                    "seeds": len(rows),
                    "mean_ratio": round(sum(calls) / len(calls) / rows[0]["minimum"], 3),
                    "worst_ratio": round(max(calls) / rows[0]["minimum"], 3),
                    "duplicates": sum(r["duplicates"] for r in rows),
                    "missing": sum(r["missing"] for r in rows),
                }
            )


if __name__ == "__main__":
    main()
