"""Start real processes on loopback for tests: free ports, readiness waits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = [
    "RunningProcess",
    "free_port",
    "run_jirabridge",
    "spawn_jirabridge",
    "stop_process",
    "wait_ready",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RunningProcess:
    """A started ``jirabridge`` process and where it answers."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text(errors="replace")


def spawn_jirabridge(
    args: Sequence[str], *, port: int | None, log_path: Path, env: dict[str, str] | None = None
) -> RunningProcess:
    """Start ``python -m jirabridge.cli ARGS`` without waiting; output goes to ``log_path``.

    ``JIRABRIDGE_*`` variables of the test process are not inherited: only ``env`` configures it.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("JIRABRIDGE_")}
    full_env.update(env or {})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jirabridge.cli", *args],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}" if port is not None else ""
    return RunningProcess(url, process, log_path)


def wait_ready(
    running: RunningProcess,
    *,
    ready_path: str | None = "/readyz",
    ready_text: str | None = None,
    timeout: float = 180.0,
) -> None:
    """Wait until ``ready_path`` answers 200 or the log shows ``ready_text``.

    Raises ``RuntimeError`` with the process's output when it exits or is not ready in time.
    """
    deadline = time.monotonic() + timeout
    while True:
        if running.process.poll() is not None:
            raise RuntimeError(f"process exited early:\n{running.log()}")
        if ready_text is not None:
            if ready_text in running.log():
                return
        elif ready_path is not None:
            try:
                if httpx.get(running.url + ready_path, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready after {timeout} s:\n{running.log()}")
        time.sleep(0.1)  # polling a real process's start-up: there is no clock to inject


def stop_process(running: RunningProcess, *, grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; a process already gone is left alone."""
    process = running.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def run_jirabridge(
    args: Sequence[str],
    *,
    port: int,
    log_path: Path,
    env: dict[str, str] | None = None,
    ready_path: str = "/readyz",
    timeout: float = 180.0,
) -> Iterator[RunningProcess]:
    """Run ``python -m jirabridge.cli ARGS`` until ``ready_path`` answers 200; stop it after."""
    running = spawn_jirabridge(args, port=port, log_path=log_path, env=env)
    try:
        wait_ready(running, ready_path=ready_path, timeout=timeout)
        yield running
    finally:
        stop_process(running)
