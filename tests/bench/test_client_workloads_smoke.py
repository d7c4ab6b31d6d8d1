"""Smoke test: every client runs every workload through bench/client_workloads.py at tiny size.

It keeps the benchmark from rotting (a peer's API change, a simulator change, a broken table);
it asserts what the simulator's books say, never a timing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _rows(output: str) -> list[list[str]]:
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 11 and cells[0] in ("clean", "limited", "faulty"):
            rows.append(cells)
    return rows


@pytest.mark.slow
def test_every_client_runs_every_workload_exactly_once_on_a_clean_sim() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.client_workloads",
            "--profiles",
            "clean",
            "--worklogs",
            "6",
            "--issues",
            "3",
            "--bulk",
            "55",
            "--search",
            "120",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _rows(proc.stdout)
    seen = {(r[1].split()[0], r[2]) for r in rows}
    assert seen == {
        (w, c) for w in ("worklogs", "bulk", "search") for c in ("jirabridge", "jira", "atlassian")
    }
    for row in rows:
        _profile, workload, client, _wall, requests, _429, dups, missing, errors, _pct, rss = row
        assert (dups, missing, errors) == ("0", "0", "0"), (workload, client, proc.stderr[-1000:])
        assert int(requests.replace(",", "")) > 0
        assert float(rss) > 0
    by_client = {(r[1].split()[0], r[2]): int(r[4].replace(",", "")) for r in rows}
    # 55 issues: two bulk calls for Jirabridge (50 + 5); search 120 ids in one page + fetch.
    assert by_client[("bulk", "jirabridge")] == 2
    assert by_client[("search", "jirabridge")] <= 4
