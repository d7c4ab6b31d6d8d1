"""Jirabridge's client beside ``jira`` and ``atlassian-python-api`` on the same workloads.

Each run starts a fresh ``jirabridge sim`` (in this process, on loopback, under a profile),
then runs ONE client on ONE workload in a child process, so the child's peak RSS is the
client's own. Afterwards the simulator's books give the request count, the 429s and, by the
unique tag each item carries (``bench-N`` in a worklog comment or an issue summary), the
duplicates and the missing.

How each client is written, as its users would:

- ``jirabridge``: ``asyncio.gather`` over ``add_worklog_once`` (16 in flight, the governor
  paces them), ``bulk_create`` on the whole list, ``async for`` over ``search``.
- ``jira`` and ``atlassian-python-api``: a plain single-threaded loop (no thread pool), a
  ``try/except`` per item that logs and goes on; bulk create in chunks of 50 (Jira's cap) with
  the library's bulk helper; search with the library's paging helper (``jira``:
  ``search_issues(maxResults=False)``; ``atlassian``: ``enhanced_jql`` following
  ``nextPageToken``).

Every client gets a 2 s timeout under ``faulty`` (BRIEF §5) and its library default elsewhere.

Run: ``python -m bench.client_workloads [--profiles clean,limited,faulty]
[--workloads worklogs,bulk,search] [--clients jirabridge,jira,atlassian] [--worklogs 2000]
[--issues 200] [--bulk 1000] [--search 20000,5000] [--in-flight 16]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["CLIENTS", "WORKLOADS", "Outcome", "main", "run_case"]

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ("jirabridge", "jira", "atlassian")
WORKLOADS = ("worklogs", "bulk", "search")
TAG = re.compile(r"bench-(\d+)")
FAULTY_TIMEOUT = 2.0
BULK_CHUNK = 50


@dataclass
class Outcome:
    """What one (profile, workload, client, size) run measured."""

    profile: str
    workload: str
    client: str
    size: int
    wall_s: float
    requests: int
    status_429: int
    duplicates: int
    missing: int
    client_errors: int
    peak_rss_mb: float
    allowed_rate: float | None

    @property
    def pct_allowed(self) -> float | None:
        """Items per second as a share of what the simulator's limits allow (None if unlimited)."""
        if self.allowed_rate is None or self.wall_s <= 0:
            return None
        return 100.0 * self.size / self.wall_s / self.allowed_rate


# ---------------------------------------------------------------- child side (one client)


def _started(i: int) -> datetime:
    return datetime(2026, 1, 5, 9, 0, tzinfo=UTC) + timedelta(minutes=i)


async def _jirabridge(spec: dict[str, Any]) -> int:
    from jirabridge.jira import IssueInput, JiraClient

    errors = 0
    async with JiraClient.cloud(
        spec["url"], email=spec["email"], api_token=spec["token"], timeout=spec["timeout"]
    ) as client:
        _mark_start()
        workload = spec["workload"]
        if workload == "worklogs":
            keys: list[str] = spec["keys"]
            gate = asyncio.Semaphore(int(spec.get("in_flight", 16)))

            async def one(i: int) -> None:
                nonlocal errors
                async with gate:
                    try:
                        await client.add_worklog_once(
                            keys[i % len(keys)],
                            external_id=f"bench-{i}",
                            started=_started(i),
                            time_spent_seconds=60,
                            comment=f"bench-{i}",
                        )
                    except Exception as exc:
                        print(f"worklog bench-{i}: {exc!r}", file=sys.stderr)
                        errors += 1

            await asyncio.gather(*(one(i) for i in range(spec["size"])))
        elif workload == "bulk":
            inputs = [
                IssueInput(
                    fields={
                        "project": {"key": spec["project"]},
                        "issuetype": {"name": "Task"},
                        "summary": f"bench-{i}",
                    },
                    external_id=f"bench-{i}",
                )
                for i in range(spec["size"])
            ]
            results = await client.bulk_create(inputs)
            errors = sum(1 for r in results if not r.ok)
        else:
            seen = 0
            async for _issue in client.search(f"project = {spec['project']}", fields=["summary"]):
                seen += 1
            errors = abs(spec["size"] - seen)
    return errors


def _jira_lib(spec: dict[str, Any]) -> int:
    from jira import JIRA

    client = JIRA(
        server=spec["url"],
        basic_auth=(spec["email"], spec["token"]),
        timeout=spec["timeout"],
    )
    _mark_start()
    errors = 0
    if spec["workload"] == "worklogs":
        keys = spec["keys"]
        for i in range(spec["size"]):
            try:
                client.add_worklog(
                    keys[i % len(keys)],
                    timeSpentSeconds="60",
                    started=_started(i),
                    comment=f"bench-{i}",
                )
            except Exception as exc:
                print(f"worklog bench-{i}: {exc!r}", file=sys.stderr)
                errors += 1
    elif spec["workload"] == "bulk":
        fields = [
            {
                "project": {"key": spec["project"]},
                "issuetype": {"name": "Task"},
                "summary": f"bench-{i}",
            }
            for i in range(spec["size"])
        ]
        for start in range(0, len(fields), BULK_CHUNK):
            try:
                for result in client.create_issues(fields[start : start + BULK_CHUNK]):
                    errors += result.get("status") != "Success"
            except Exception as exc:
                print(f"bulk chunk {start}: {exc!r}", file=sys.stderr)
                errors += BULK_CHUNK
    else:
        try:
            found = client.search_issues(
                f"project = {spec['project']}", maxResults=False, fields="summary"
            )
            errors = abs(spec["size"] - len(found))
        except Exception as exc:
            print(f"search: {exc!r}", file=sys.stderr)
            errors = spec["size"]
    return errors


def _atlassian_lib(spec: dict[str, Any]) -> int:
    from atlassian import Jira

    client = Jira(
        url=spec["url"],
        username=spec["email"],
        password=spec["token"],
        cloud=True,
        # 75 s is the library's default.
        timeout=spec["timeout"] or 75,
    )
    _mark_start()
    errors = 0
    if spec["workload"] == "worklogs":
        keys = spec["keys"]
        for i in range(spec["size"]):
            started = _started(i).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
            try:
                client.issue_worklog(keys[i % len(keys)], started, 60, comment=f"bench-{i}")
            except Exception as exc:
                print(f"worklog bench-{i}: {exc!r}", file=sys.stderr)
                errors += 1
    elif spec["workload"] == "bulk":
        fields = [
            {
                "fields": {
                    "project": {"key": spec["project"]},
                    "issuetype": {"name": "Task"},
                    "summary": f"bench-{i}",
                }
            }
            for i in range(spec["size"])
        ]
        for start in range(0, len(fields), BULK_CHUNK):
            try:
                answer = client.create_issues(fields[start : start + BULK_CHUNK])
                errors += len(answer.get("errors", [])) if isinstance(answer, dict) else 0
            except Exception as exc:
                print(f"bulk chunk {start}: {exc!r}", file=sys.stderr)
                errors += BULK_CHUNK
    else:
        seen = 0
        token: str | None = None
        try:
            while True:
                page = client.enhanced_jql(
                    f"project = {spec['project']}", fields="summary", nextPageToken=token, limit=100
                )
                seen += len(page.get("issues", []))
                token = page.get("nextPageToken")
                if not token or page.get("isLast"):
                    break
        except Exception as exc:
            print(f"search: {exc!r}", file=sys.stderr)
        errors = abs(spec["size"] - seen)
    return errors


_START: list[float] = []


def _mark_start() -> None:
    """The workload begins: imports and client construction are not timed."""
    _START.append(time.perf_counter())


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one client on one workload; its wall time, error count and peak RSS."""
    if spec["client"] == "jirabridge":
        errors = asyncio.run(_jirabridge(spec))
    elif spec["client"] == "jira":
        errors = _jira_lib(spec)
    else:
        errors = _atlassian_lib(spec)
    wall = time.perf_counter() - _START[0]
    return {"wall_s": wall, "errors": errors, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """This process's own peak RSS.

    ``ru_maxrss`` survives fork+exec on Linux, so a child started by a big parent reports the
    parent's size; ``VmHWM`` belongs to the address space exec created.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------- parent side (the simulator)


def _seed(workload: str, size: int, issues: int) -> Any:
    from jirabridge.sim.seed import SeedSpec

    if workload == "worklogs":
        return SeedSpec(projects=1, issues_per_project=issues, closed_sprints=0)
    if workload == "search":
        return SeedSpec(projects=1, issues_per_project=size, closed_sprints=0)
    return SeedSpec(projects=1, issues_per_project=1, closed_sprints=0)


def _allowed_rate(profile: str, workload: str, issues: int) -> float | None:
    """Items per second the profile's limits allow for the workload's writes."""
    from jirabridge.sim.profiles import get_profile

    limits = get_profile(profile).ratelimit
    if not limits.burst_enabled or workload == "search":
        return None
    post = limits.burst_rps["POST"]
    if workload == "bulk":
        return post * BULK_CHUNK
    rate = post
    if limits.per_issue_enabled:
        # Worklogs spread evenly over the issues: each issue's longest window caps it.
        per_issue = min(n / w for n, w in limits.per_issue_windows)
        rate = min(rate, per_issue * issues)
    return rate


def _tags(text: str) -> list[int]:
    return [int(m) for m in TAG.findall(text)]


def _books(app: Any, workload: str, size: int) -> tuple[int, int, int, int]:
    """Requests, 429s, duplicates and missing from the simulator's state."""
    runtime = app.state.sim
    requests = sum(runtime.requests.values())
    throttled = sum(c for (_m, _r, s), c in runtime.requests.items() if s == 429)
    if workload == "search":
        return requests, throttled, 0, 0
    counts: Counter[int] = Counter()
    if workload == "worklogs":
        for worklog in list(runtime.site.worklog_index.values()):
            counts.update(set(_tags(json.dumps(worklog.comment))))
    else:
        for issue in list(runtime.site.issues.values()):
            counts.update(set(_tags(issue.summary)))
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    missing = sum(1 for i in range(size) if counts[i] == 0)
    return requests, throttled, duplicates, missing


def run_case(
    profile: str, workload: str, client: str, size: int, *, issues: int = 200, in_flight: int = 16
) -> Outcome:
    """One client, one workload, one profile, against a fresh simulator."""
    # Imported here so the child (one client) does not carry the simulator in its RSS.
    from jirabridge.sim.app import SimConfig
    from jirabridge.sim.server import running_sim

    config = SimConfig(
        profile=profile,
        seed_spec=_seed(workload, size, issues),
        admin_email="bench@example.com",
        admin_token="bench-token",  # a throwaway loopback credential
    )
    with running_sim(config) as (url, app):
        site = app.state.sim.site
        keys = sorted((i.key for i in site.issues.values()), key=lambda k: int(k.split("-")[1]))
        project = next(iter(site.projects.values()))
        spec = {
            "client": client,
            "workload": workload,
            "size": size,
            "url": url,
            "email": config.admin_email,
            "token": config.admin_token,
            "timeout": FAULTY_TIMEOUT if profile == "faulty" else None,
            "keys": keys[:issues],
            "in_flight": in_flight,
        }
        spec["project"] = project.key
        app.state.sim.requests.clear()
        proc = subprocess.run(
            [sys.executable, "-m", "bench.client_workloads", "--child", json.dumps(spec)],
            capture_output=True,
            cwd=ROOT,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{client} {workload} failed:\n{proc.stderr[-3000:]}")
        # The per-item failures (the library's own logging is noise here).
        failures = [
            line
            for line in proc.stderr.splitlines()
            if line.startswith(("worklog bench-", "bulk chunk", "search:"))
        ]
        for line in failures[:20]:
            print(f"{client} {profile} {workload}: {line}", file=sys.stderr)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if workload == "search" and profile == "faulty":
            time.sleep(0)  # nothing to wait for: search lag only hides fresh writes
        requests, throttled, duplicates, missing = _books(app, workload, size)
    return Outcome(
        profile=profile,
        workload=workload,
        client=client,
        size=size,
        wall_s=result["wall_s"],
        requests=requests,
        status_429=throttled,
        duplicates=duplicates,
        missing=missing if workload != "search" else result["errors"],
        client_errors=result["errors"],
        peak_rss_mb=result["peak_rss_mb"],
        allowed_rate=_allowed_rate(profile, workload, issues),
    )


def _row(o: Outcome) -> str:
    pct = f"{o.pct_allowed:.0f}%" if o.pct_allowed is not None else "-"
    return (
        f"| {o.profile} | {o.workload} {o.size:,} | {o.client} | {o.wall_s:.1f} | "
        f"{o.requests:,} | {o.status_429:,} | {o.duplicates} | {o.missing} | "
        f"{o.client_errors} | {pct} | {o.peak_rss_mb:.0f} |"
    )


HEADER = (
    "| profile | workload | client | wall s | requests | 429s | duplicates | missing | "
    "client errors | % of allowed rate | peak RSS MB |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen cases and print a Markdown table for bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--profiles", default="clean,limited,faulty")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--worklogs", type=int, default=2000)
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument("--search", default="20000,5000", help="comma-separated sizes")
    parser.add_argument(
        "--in-flight", type=int, default=96, help="Jirabridge worklog writes in flight at once"
    )
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(child(spec)))
        return 0
    print(f"machine: {platform.machine()}, {platform.python_version()}, {platform.platform()}")
    print(f"started {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {_load()}")
    print(HEADER, flush=True)
    for profile in args.profiles.split(","):
        for workload in args.workloads.split(","):
            if workload == "worklogs":
                sizes = [args.worklogs]
            elif workload == "bulk":
                sizes = [args.bulk]
            else:
                sizes = [int(s) for s in args.search.split(",")]
            for size in sizes:
                for client in args.clients.split(","):
                    outcome = run_case(
                        profile,
                        workload,
                        client,
                        size,
                        issues=args.issues,
                        in_flight=args.in_flight,
                    )
                    print(_row(outcome), flush=True)
    print(f"ended {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {_load()}")
    return 0


def _load() -> str:
    """The 1/5/15-minute load averages, so a reader can judge the machine's state."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


if __name__ == "__main__":
    raise SystemExit(main())
