"""Simulator throughput: simple requests per second on one core, clean profile, no latency.

Starts ``jirabridge sim`` (one uvicorn process = one core; pinned to CPU 0 with ``taskset``
when there is more than one CPU) and drives it from separate load processes pinned elsewhere,
each holding keep-alive connections that send plain HTTP/1.1 requests over raw sockets, so the
load generator costs far less than the server it measures.

Run: ``.venv/bin/python -m bench.sim_throughput [--seconds 10] [--procs 2] [--conns 16]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

TARGET_RPS = 2000


def _start_sim() -> tuple[subprocess.Popen[str], str, str, str]:
    exe = Path(sys.executable).parent / "jirabridge"
    cmd = [str(exe), "sim", "--port", "0", "--profile", "clean", "--seed", "1"]
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    text = ""
    while "try:" not in text:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("simulator did not start:\n" + text)
        text += line
    url = re.search(r"at (http://[\d.]+:\d+)", text)
    login = re.search(r"login: (\S+)\s+token: (\S+)", text)
    assert url
    assert login
    return proc, url.group(1), login.group(1), login.group(2)


async def _connection(host: str, port: int, request: bytes, stop: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < stop:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            counts[0 if status < 400 else 1] += 1
    finally:
        writer.close()


def _load(
    host: str,
    port: int,
    request: bytes,
    seconds: float,
    conns: int,
    cpu: int,
    out: mp.Queue[tuple[int, int]],
) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})
    counts = [0, 0]

    async def main() -> None:
        stop = time.monotonic() + seconds
        await asyncio.gather(
            *(_connection(host, port, request, stop, counts) for _ in range(conns))
        )

    asyncio.run(main())
    out.put((counts[0], counts[1]))


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    total = times.user + times.system
    for child in process.children(recursive=True):
        child_times = child.cpu_times()
        total += child_times.user + child_times.system
    return total


def run(seconds: float, procs: int, conns: int) -> dict[str, float]:
    proc, base_url, login, token = _start_sim()
    host, port = base_url.removeprefix("http://").split(":")
    auth = base64.b64encode(f"{login}:{token}".encode()).decode()
    workloads = {
        "GET serverInfo (anonymous)": (
            f"GET /rest/api/3/serverInfo HTTP/1.1\r\nHost: {host}\r\n\r\n"
        ),
        "GET issue (basic auth)": (
            "GET /rest/api/3/issue/DEMO-3?fields=summary,status HTTP/1.1\r\n"
            f"Host: {host}\r\nAuthorization: Basic {auth}\r\n\r\n"
        ),
    }
    results: dict[str, float] = {}
    server = psutil.Process(proc.pid)
    try:
        # Warm up (imports, first-request paths).
        _measure(host, int(port), next(iter(workloads.values())).encode(), 1.0, 1, 4)
        for name, request in workloads.items():
            cpu_before = _cpu_seconds(server)
            ok, errors, elapsed = _measure(host, int(port), request.encode(), seconds, procs, conns)
            cpu = _cpu_seconds(server) - cpu_before
            rps = ok / elapsed
            # Requests per CPU-second of the server = what one fully available core sustains;
            # on a shared machine the wall-clock rate understates it.
            per_core = ok / cpu if cpu > 0 else 0.0
            results[name] = per_core
            print(
                f"{name:30s} wall {rps:6.0f} req/s | server CPU {cpu:5.1f} s over {elapsed:4.1f} s"
                f" | {per_core:6.0f} req per CPU-second ({ok} ok, {errors} errors)"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return results


def _measure(
    host: str, port: int, request: bytes, seconds: float, procs: int, conns: int
) -> tuple[int, int, float]:
    queue: mp.Queue[tuple[int, int]] = mp.Queue()
    cpus = os.cpu_count() or 1
    workers = [
        mp.Process(
            target=_load,
            args=(
                host,
                port,
                request,
                seconds,
                conns,
                1 + (i % max(1, cpus - 1)) if cpus > 1 else 0,
                queue,
            ),
        )
        for i in range(procs)
    ]
    start = time.monotonic()
    for w in workers:
        w.start()
    totals = [queue.get() for _ in workers]
    elapsed = time.monotonic() - start
    for w in workers:
        w.join()
    return sum(t[0] for t in totals), sum(t[1] for t in totals), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--conns", type=int, default=16)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs,"
        f" {platform.processor() or platform.platform()}"
    )
    print(
        f"python {platform.python_version()}; server pinned to one core;"
        f" target >= {TARGET_RPS} req/s"
    )
    results = run(args.seconds, args.procs, args.conns)
    worst = min(results.values())
    verdict = "OK" if worst >= TARGET_RPS else "BELOW TARGET"
    print(f"slowest workload: {worst:.0f} req per CPU-second of one core -> {verdict}")
    print(f"load average after the run: {os.getloadavg()}")


if __name__ == "__main__":
    main()
