"""A board report of 10 sprints x 300 issues from ``jirabridge sim``: cold cache, warm cache.

Builds a board whose 10 closed sprints held 300 issues each (290 committed, 10 added
mid-sprint; some re-estimated, removed, re-opened; most done), serves the simulator on
loopback (uvicorn in a thread, real HTTP), and runs the service's path: the loader with the
database cache (SQLite file) and the report computed from it. Three runs:

* cold: empty cache;
* warm: a new loader and cache object on the same database (as another host would), nothing
  changed in Jira;
* warm + 20 changed, 2 deleted: 20 issues edited and 2 deleted in Jira since the last load.

Requests are the simulator's own books (``runtime.requests``: method, route, status), so the
figure does not depend on the client's idea of what it sent. CPU is this process's: the
client thread (``thread_time``) and the whole process, simulator thread included.

Usage: ``.venv/bin/python -m bench.sprint_reports [--sprints 10] [--issues 300] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jirabridge.jira import JiraClient
from jirabridge.sim import issues as ops
from jirabridge.sim.agile import create_sprint, move_to_sprint, set_sprint_state
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.model import Board, Issue, Project
from jirabridge.sim.server import serve_in_thread
from jirabridge.sim.state import SimSite
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.migrations import upgrade_async
from jirabridge.store.report_cache import ReportCacheStore
from jirabridge.sync.reports.board import board_report
from jirabridge.sync.reports.source import DatabaseReportCache, SprintDataLoader

TODO, IN_PROGRESS, DONE = "10000", "10001", "10002"
FIRST_START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
SPRINT_DAYS = 14


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def build_board(site: SimSite, sprints: int, per_sprint: int, seed: int) -> tuple[int, int]:
    """The BIG project and board with its sprint history; returns (board id, issue count)."""
    rng = random.Random(seed)  # reproducible data, not secrets
    lead = next(iter(site.projects.values())).lead
    project = Project(id=site.next_id("project"), key="BIG", name="Bench board", lead=lead)
    site.projects[project.id] = project
    board = Board(id=site.next_id("board", 1), name="BIG board", project_id=project.id)
    site.boards[board.id] = board
    added = max(1, per_sprint // 30)
    count = 0

    def new_issue(n: int, at: datetime) -> Issue:
        body = {
            "fields": {
                "project": {"key": "BIG"},
                "issuetype": {"name": "Story"},
                "summary": f"Story {n}",
                "customfield_10016": rng.choice((1, 2, 3, 5, 8)),
            }
        }
        return ops.create_issue(site, body, "2", lead, created_ms=_ms(at), emit=False)

    site.muted = True
    try:
        for k in range(sprints):
            start = FIRST_START + timedelta(days=SPRINT_DAYS * k)
            end = start + timedelta(days=SPRINT_DAYS)
            sprint = create_sprint(
                site,
                f"BIG Sprint {k + 1}",
                board.id,
                start_ms=_ms(start),
                end_ms=_ms(end),
                created_ms=_ms(start - timedelta(days=3)),
            )
            committed = [
                new_issue(count + i, start - timedelta(days=2)) for i in range(per_sprint - added)
            ]
            count += len(committed)
            move_to_sprint(site, sprint, committed, lead, at_ms=_ms(start - timedelta(hours=1)))
            set_sprint_state(site, sprint, "active", at_ms=_ms(start))
            # (when, order, what, issue, value): applied in time order, as Jira would log them.
            events: list[tuple[datetime, int, str, Issue, Any]] = []
            late = [new_issue(count + i, start + timedelta(days=1)) for i in range(added)]
            count += len(late)
            for i, issue in enumerate(late):
                events.append(
                    (start + timedelta(days=2, hours=i), len(events), "sprint", issue, sprint)
                )
            for issue in [*committed, *late]:
                begin = start + timedelta(days=rng.randint(2, 9), hours=rng.randint(0, 8))
                finish = begin + timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 8))
                roll = rng.random()
                if roll < 0.04:  # taken out of the sprint
                    when = start + timedelta(days=rng.randint(3, 10))
                    events.append((when, len(events), "sprint", issue, None))
                    continue
                if roll < 0.10:  # re-estimated while in the sprint
                    when = start + timedelta(days=rng.randint(1, 6), hours=3)
                    events.append((when, len(events), "points", issue, 13))
                events.append((begin, len(events), "status", issue, IN_PROGRESS))
                if roll < 0.85 and finish < end:
                    events.append((finish, len(events), "status", issue, DONE))
                    again = finish + timedelta(days=1)
                    if roll < 0.13 and again < end:  # re-opened a day later
                        events.append((again, len(events), "status", issue, IN_PROGRESS))
            for when, _, what, issue, value in sorted(events, key=lambda e: (e[0], e[1])):
                if what == "sprint":
                    move_to_sprint(site, value, [issue], lead, at_ms=_ms(when))
                elif what == "points":
                    fields = {"fields": {"customfield_10016": value}}
                    ops.edit_issue(site, issue, fields, "2", lead, at_ms=_ms(when))
                else:
                    ops.set_status(site, issue, value, lead, at_ms=_ms(when))
            set_sprint_state(site, sprint, "closed", at_ms=_ms(end))
    finally:
        site.muted = False
    return board.id, count


async def report_once(
    url: str, runtime: SimRuntime, db_url: str, board: int, now: datetime
) -> dict[str, Any]:
    """One report through a fresh client, loader and cache object: requests, wall, CPU."""
    engine = make_engine(db_url)
    cache = DatabaseReportCache(ReportCacheStore(session_factory(engine)))
    before = Counter(runtime.requests)
    wall0, thread0, proc0 = time.perf_counter(), time.thread_time(), time.process_time()
    async with JiraClient.cloud(
        url, email=runtime.admin_email, api_token=runtime.admin_token
    ) as jira:
        loader = SprintDataLoader(jira, cache, site="connection-bench", clock=lambda: now)
        data = await loader.load(board, last=10)
        report = board_report(board, data.sprints, data.histories, as_of=now, zone=UTC)
    wall = time.perf_counter() - wall0
    client_cpu = time.thread_time() - thread0
    process_cpu = time.process_time() - proc0
    await engine.dispose()
    made = Counter(runtime.requests)
    made.subtract(before)
    by_route: Counter[str] = Counter()
    for (method, route, _status), n in made.items():
        if n:
            by_route[f"{method} {route}"] += n
    return {
        "requests": sum(by_route.values()),
        "by_route": dict(sorted(by_route.items())),
        "fetched": data.fetched_issues,
        "dropped": data.dropped_issues,
        "issues": len(data.histories),
        "sprints": len(report.sprints),
        "completed_points": sum(r.completed_points for r in report.sprints),
        "wall_s": round(wall, 2),
        "client_cpu_s": round(client_cpu, 2),
        "process_cpu_s": round(process_cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sprints", type=int, default=10)
    parser.add_argument("--issues", type=int, default=300, help="issues per sprint")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    now = FIRST_START + timedelta(days=SPRINT_DAYS * args.sprints + 2)
    app = create_sim_app(SimConfig(frozen_at=now.timestamp(), seed=args.seed))
    runtime: SimRuntime = app.state.sim
    built = time.perf_counter()
    board, count = build_board(runtime.site, args.sprints, args.issues, args.seed)
    print(f"built {count} issues in {args.sprints} sprints in {time.perf_counter() - built:.1f} s")
    started = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs, {started}")
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(app) as url:
        db_url = f"sqlite:///{Path(tmp) / 'cache.db'}"
        asyncio.run(upgrade_async(db_url))
        for name in ("cold", "warm"):
            print(name, asyncio.run(report_once(url, runtime, db_url, board, now)))
        # Some activity in Jira since: 20 edits, 2 deletions, a minute later.
        runtime.clock.advance(60)
        later = now + timedelta(minutes=1)
        site = runtime.site
        lead = next(iter(site.projects.values())).lead
        big = sorted(
            (i for i in site.issues.values() if i.key.startswith("BIG-")), key=lambda i: i.id
        )
        for issue in big[-20:]:
            ops.edit_issue(
                site, issue, {"fields": {"summary": "edited"}}, "2", lead, at_ms=site.now_ms()
            )
        for issue in big[:2]:
            ops.delete_issue(site, issue, lead, delete_subtasks=False)
        print("warm+changes", asyncio.run(report_once(url, runtime, db_url, board, later)))
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
