"""Backfill N pull requests (5 commits each) from a GitHub double into the in-process simulator.

Measures what a backfill costs: GitHub and Jira requests per pull request, wall and CPU time,
links per second. The GitHub double is a MockTransport serving ``/pulls`` (100 a page) and
``/pulls/{n}/commits``; the simulator runs in-process on the ``clean`` profile with its
latency on a frozen clock (so wall time is our own work: planning, the ledger and cursor on
SQLite, the HTTP core). One pull request in ten carries a ``#comment`` Smart Commit, which adds
a user search and a comment; the rest only link.

Usage: ``.venv/bin/python -m bench.devlinks_backfill [--prs 2000] [--commits 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from jirabridge.github import GitHubClient
from jirabridge.jira import JiraClient
from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.seed import SeedSpec
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.ledger import WriteLedger
from jirabridge.store.migrations import upgrade_async
from jirabridge.sync.devlinks.backfill import MemoryCursorStore, backfill_repositories
from jirabridge.sync.devlinks.intake import DevLinkSettings

BASE = "http://sim.test"
REPO = "bench/app"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


class GitHubDouble:
    """Pull requests and their commits, with a request counter."""

    def __init__(self, prs: int, commits: int, keys: list[str], email: str) -> None:
        self.requests = 0
        self.pulls = [
            {
                "id": n,
                "number": n,
                "title": f"{keys[n % len(keys)]} change {n}",
                "body": "",
                "state": "closed",
                "merged_at": "2026-11-03T10:00:00Z",
                "user": {"login": "dev", "id": 1},
                "head": {"ref": f"feature/{keys[(n + 1) % len(keys)]}", "sha": "a" * 40},
                "base": {"ref": "main", "sha": "b" * 40},
                "html_url": f"https://github.com/{REPO}/pull/{n}",
                "created_at": "2026-11-02T10:00:00Z",
                "updated_at": "2026-11-03T10:00:00Z",
            }
            for n in range(1, prs + 1)
        ]
        self.commits = commits
        self.keys = keys
        self.email = email

    def _commits(self, number: int) -> list[dict[str, Any]]:
        person = {"name": "Dev", "email": self.email, "date": "2026-11-02T09:00:00Z"}
        out = []
        for i in range(self.commits):
            key = self.keys[(number + i) % len(self.keys)]
            smart = " #comment reviewed" if number % 10 == 0 and i == 0 else ""
            sha = f"{number:020x}{i:020x}"
            out.append(
                {
                    "sha": sha,
                    "commit": {"message": f"{key} step {i}{smart}", "author": person},
                    "html_url": f"https://github.com/{REPO}/commit/{sha}",
                }
            )
        return out

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        path = request.url.path
        page = int(request.url.params.get("page", "1"))
        per_page = int(request.url.params.get("per_page", "100"))
        m = re.fullmatch(rf"/repos/{REPO}/pulls/(\d+)/commits", path)
        if m:
            return httpx.Response(200, json=self._commits(int(m.group(1))))
        if path == f"/repos/{REPO}/pulls":
            chunk = self.pulls[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(self.pulls):
                nxt = request.url.copy_set_param("page", str(page + 1))
                headers["Link"] = f'<{nxt}>; rel="next"'
            return httpx.Response(200, json=chunk, headers=headers)
        return httpx.Response(404, json={"message": "Not Found"})


class Counting(httpx.AsyncBaseTransport):
    """Counts requests on their way to another transport."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests = 0
        self.by_method: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        self.by_method[request.method] = self.by_method.get(request.method, 0) + 1
        return await self.inner.handle_async_request(request)


async def run(prs: int, commits: int) -> dict[str, Any]:
    sim = create_sim_app(
        SimConfig(
            base_url=BASE,
            frozen_at=NOW.timestamp(),
            seed_spec=SeedSpec(projects=1, issues_per_project=50, users=3),
        )
    )
    runtime: SimRuntime = sim.state.sim
    jira_transport = Counting(httpx.ASGITransport(app=sim))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite'}"
        await upgrade_async(url)
        engine = make_engine(url)
        try:
            async with JiraClient.cloud(
                BASE,
                email=runtime.admin_email,
                api_token=runtime.admin_token,
                transport=jira_transport,
            ) as jira:
                users = await jira.search_users("@example.com")
                email = next(
                    u.email_address
                    for u in users
                    if u.email_address and u.email_address != runtime.admin_email
                )
                issues = [i.key for i in runtime.site.issues.values() if i.status_id != "10002"]
                double = GitHubDouble(prs, commits, sorted(issues), email)
                jira_transport.requests = 0
                jira_transport.by_method.clear()
                async with GitHubClient(
                    token="bench", transport=httpx.MockTransport(double.handler)
                ) as github:
                    started, cpu = time.perf_counter(), time.process_time()
                    report = await backfill_repositories(
                        [REPO],
                        months=3,
                        github=github,
                        jira=jira,
                        ledger=WriteLedger(session_factory(engine)),
                        settings=DevLinkSettings(site="bench", projects=["DEMO"]),
                        cursors=MemoryCursorStore(),
                        clock=lambda: NOW,
                    )
                    wall = time.perf_counter() - started
                    cpu_used = time.process_time() - cpu
        finally:
            await engine.dispose()
    outcome = report.repos[0]
    return {
        "prs": prs,
        "commits": prs * commits,
        "status": outcome.status,
        "links": outcome.links,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu_used, 1),
        "links_per_s": round(outcome.links / wall, 1),
        "github_requests": double.requests,
        "jira_requests": jira_transport.requests,
        "jira_by_method": dict(jira_transport.by_method),
        "requests_per_pr": round((double.requests + jira_transport.requests) / prs, 2),
        "cpu_ms_per_pr": round(cpu_used / prs * 1000, 2),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prs", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(run(args.prs, args.commits))
    for name, value in result.items():
        print(f"{name:>16}: {value}")


if __name__ == "__main__":
    main()
