"""The simulator on a real loopback socket: the thread helper and the ``jirabridge sim`` CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from jirabridge.sim.app import SimConfig
from jirabridge.sim.server import running_sim


def test_running_sim_serves_on_loopback() -> None:
    with running_sim(SimConfig(seed=3)) as (base_url, app):
        assert base_url.startswith("http://127.0.0.1:")
        runtime = app.state.sim
        auth = (runtime.admin_email, runtime.admin_token)
        with httpx.Client(base_url=base_url, auth=auth) as c:
            me = c.get("/rest/api/3/myself")
            assert me.status_code == 200
            assert me.json()["self"].startswith(base_url)
    with pytest.raises(httpx.ConnectError), httpx.Client(base_url=base_url) as c:
        c.get("/rest/api/3/serverInfo")


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    exe = Path(sys.executable).parent / "jirabridge"
    proc = subprocess.Popen(
        [str(exe), "sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.strip().startswith("try:"):
            break
    match = re.search(r"at (http://127\.0\.0\.1:\d+)", "".join(lines))
    assert match, "".join(lines)
    return proc, match.group(1), lines


@pytest.mark.slow
def test_cli_starts_prints_credentials_and_answers() -> None:
    proc, base_url, lines = _start_cli("--seed", "5", "--flavor", "datacenter")
    try:
        login = re.search(r"login: (\S+)\s+token: (\S+)", "".join(lines))
        assert login
        with httpx.Client(base_url=base_url, auth=(login.group(1), login.group(2))) as c:
            # The server answers once uvicorn has taken over the bound socket.
            for _ in range(100):
                try:
                    r = c.get("/rest/api/2/serverInfo")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            assert r.json()["deploymentType"] == "Server"
            assert c.get("/rest/api/2/myself").json()["name"] == "admin"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.slow
def test_cli_user_option_and_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    proc, base_url, lines = _start_cli("--user", "ci@example.com:s3cret", "--state", str(state))
    try:
        assert "s3cret" not in "".join(lines)
        with httpx.Client(base_url=base_url, auth=("ci@example.com", "s3cret")) as c:
            for _ in range(100):
                try:
                    r = c.get("/rest/api/3/myself")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert state.exists()


def test_cli_refuses_bad_options() -> None:
    from typer.testing import CliRunner

    from jirabridge.cli.main import app

    runner = CliRunner()
    for args in (["--profile", "chaos"], ["--user", "nocolon"], ["--flavor", "server"]):
        result = runner.invoke(app, ["sim", "--port", "0", *args])
        assert result.exit_code == 2, (args, result.output)
