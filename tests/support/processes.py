"""Start real processes on loopback for tests: free ports, readiness waits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["RunningProcess", "free_port", "run_jirabridge"]


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
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("JIRABRIDGE_")}
    full_env.update(env or {})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jirabridge.cli", *args],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        running = RunningProcess(url, process, log_path)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"process exited early:\n{running.log()}")
                try:
                    if httpx.get(url + ready_path, timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not ready after {timeout} s:\n{running.log()}")
                time.sleep(0.1)  # polling a real process's start-up: there is no clock to inject
            yield running
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
