"""Item 7's proof: a workflow killed (SIGKILL) between its steps resumes after a restart.

Step one completes and is checkpointed; the process is killed inside step two. A new process
with the same executor id and application version recovers the workflow: step two runs to
completion exactly once and step one is not run again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("crash_worker.py")
# Bounds that only turn a hang into a failure; nothing here is a timing assertion.
START_BOUND_SEC = 60
RESUME_BOUND_SEC = 120


def _runs(directory: Path, name: str) -> int:
    marker = directory / name
    return len(marker.read_text().splitlines()) if marker.exists() else 0


def _wait_for_marker(process: subprocess.Popen[str], directory: Path, name: str) -> None:
    deadline = time.monotonic() + START_BOUND_SEC
    while _runs(directory, name) == 0:
        if process.poll() is not None:
            _, errors = process.communicate()
            pytest.fail(f"worker exited early ({process.returncode}):\n{errors}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"worker never reached {name}")
        time.sleep(0.05)


@pytest.mark.slow
def test_killed_workflow_resumes_without_rerunning_completed_steps(
    jobs_database_url: str, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    command = [sys.executable, str(WORKER)]

    worker = subprocess.Popen(
        [*command, "start", jobs_database_url, str(markers)],
        env={**os.environ, "JB_CRASH_HOLD": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_marker(worker, markers, "step2-started")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate()
    assert worker.returncode == -signal.SIGKILL
    assert _runs(markers, "step1") == 1
    assert _runs(markers, "step2-done") == 0

    env = {key: value for key, value in os.environ.items() if key != "JB_CRASH_HOLD"}
    resumed = subprocess.run(
        [*command, "resume", jobs_database_url, str(markers)],
        env=env,
        capture_output=True,
        text=True,
        timeout=RESUME_BOUND_SEC,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert outcome == {"result": 3, "state": "SUCCESS"}
    assert _runs(markers, "step1") == 1, "a completed step ran again"
    assert _runs(markers, "step2-started") == 2, "the interrupted step was not retried"
    assert _runs(markers, "step2-done") == 1
