"""Webhook intake throughput: verify + persist + acknowledge, over real HTTP on loopback.

``python -m bench.webhook_intake [--seconds 8] [--conns 16] [--runs 3] [--full-app]
[--database-url URL]``

Starts the intake routes under uvicorn in a child process (SQLite file in a temporary folder
unless ``--database-url`` names a PostgreSQL database already migrated), creates an admin Jira
endpoint, then POSTs signed deliveries, each with a new identifier, from ``--conns`` keep-alive
connections. Target: >= 500 deliveries/s with p99 < 50 ms. Prints the figures for
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATE = 500.0
TARGET_P99_MS = 50.0


def serve(url: str, port_file: str, routes: str) -> None:
    """Child process: migrate, create one endpoint, write ``port secret id``, serve.

    ``routes`` is ``intake`` (the intake router alone) or ``full`` (every route of
    :func:`jirabridge.web.app.create_app`, so routing over the whole app is paid too).
    """
    import uvicorn
    from fastapi import FastAPI

    from jirabridge.service.settings import Settings
    from jirabridge.service.webhook_intake import create_endpoint
    from jirabridge.service.webhook_wiring import build_webhooks_context
    from jirabridge.store.account_models import UserRow
    from jirabridge.store.db import make_engine, session_factory
    from jirabridge.store.migrations import upgrade
    from jirabridge.store.secrets import SecretBox, generate_key
    from jirabridge.store.webhook_models import EndpointKind, WebhookSource
    from jirabridge.web.problems import install_problem_handlers
    from jirabridge.web.routes import webhooks

    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    box = SecretBox([generate_key()])

    async def setup() -> tuple[str, str]:
        async with sessions() as session:
            user = UserRow(email=f"bench-{time.time()}@example.com", role="member")
            session.add(user)
            await session.flush()
            row, secret = await create_endpoint(
                session,
                box,
                owner_user_id=user.id,
                name="bench",
                source=WebhookSource.JIRA,
                kind=EndpointKind.ADMIN,
            )
            await session.commit()
        # The server runs in another event loop: start it with an empty pool.
        await engine.dispose()
        return row.id, secret

    settings = Settings(data_dir=Path(tempfile.mkdtemp()))
    if routes == "full":
        from jirabridge.web.app import create_app

        app = create_app(settings)
    else:
        app = FastAPI()
        install_problem_handlers(app)
        app.include_router(webhooks.intake_router)
    app.state.webhooks = build_webhooks_context(settings, sessions, box=box)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    # As `jirabridge serve` runs it: uvicorn's defaults pick uvloop and httptools when
    # installed (Server.run sets up the loop; awaiting Server.serve would not).
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)

    endpoint_id, secret = asyncio.run(setup())
    Path(port_file).write_text(f"{sock.getsockname()[1]} {secret} {endpoint_id}")
    server.run(sockets=[sock])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one pre-built HTTP/1.1 request on a kept-alive connection; the status code."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


def _request(host: str, path: str, secret: str, number: int, tag: str) -> bytes:
    from jirabridge.jira.webhooks import hub_signature

    body = json.dumps(
        {"webhookEvent": "jira:issue_updated", "timestamp": number, "issue": {"key": "A-1"}}
    ).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Hub-Signature: {hub_signature(body, secret)}\r\n"
        f"X-Atlassian-Webhook-Identifier: bench-{tag}-{number}\r\n\r\n"
    )
    return head.encode() + body


async def drive(
    port: int, secret: str, path: str, seconds: float, conns: int, server_pid: int, tag: str
) -> dict[str, float]:
    """Post signed deliveries for ``seconds`` from ``conns`` connections; the figures.

    The load generator is deliberately cheap (pre-signed requests on raw keep-alive sockets,
    no HTTP client library) so that on a 2-core box most of a core is left to the server.
    """
    latencies: list[float] = []
    counter = 0
    host = f"127.0.0.1:{port}"

    async def one_connection(deadline: float) -> None:
        nonlocal counter
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                counter += 1
                request = _request(host, path, secret, counter, tag)
                start = time.perf_counter()
                status = await _post(reader, writer, request)
                latencies.append(time.perf_counter() - start)
                if status != 202:
                    raise SystemExit(f"unexpected status {status}")
        finally:
            writer.close()

    # Warm-up (not counted): the first deliveries fill the endpoint cache and SQLAlchemy's
    # statement cache, and open the database connections.
    await asyncio.gather(*(one_connection(time.perf_counter() + 1.0) for _ in range(conns)))
    latencies.clear()
    began = time.perf_counter()
    cpu_before = _cpu_seconds(server_pid)
    deadline = began + seconds
    await asyncio.gather(*(one_connection(deadline) for _ in range(conns)))
    elapsed = time.perf_counter() - began
    server_cpu = _cpu_seconds(server_pid) - cpu_before
    latencies.sort()
    return {
        "count": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "per_cpu_second": len(latencies) / max(server_cpu, 1e-9),
        "load": os.getloadavg()[0],
    }


def _report(run: int, figures: dict[str, float]) -> None:
    met = figures["rate"] >= TARGET_RATE and figures["p99"] < TARGET_P99_MS
    print(
        f"run {run}: {figures['count']:.0f} deliveries, {figures['rate']:,.0f}/s, "
        f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms "
        f"({'MET' if met else 'NOT MET'}); {figures['per_cpu_second']:,.0f} deliveries per "
        f"server CPU-second; load average {figures['load']:.1f}",
        flush=True,
    )


def main() -> None:
    """Start the server child, drive it, stop it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3, help="measured runs on one server")
    parser.add_argument("--full-app", action="store_true", help="serve create_app()'s routes")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    folder = tempfile.mkdtemp(prefix="jb-bench-")
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    port_file = os.path.join(folder, "port")
    profile = os.environ.get("BENCH_PROFILE_SERVER")
    prefix = [sys.executable] + (["-m", "cProfile", "-o", profile] if profile else [])
    routes = "full" if args.full_app else "intake"
    child = subprocess.Popen(
        [*prefix, "-m", "bench.webhook_intake", "--serve", url, port_file, routes]
    )
    try:
        started = time.monotonic()
        while not os.path.exists(port_file) or not Path(port_file).read_text():
            if child.poll() is not None or time.monotonic() - started > 60:
                raise SystemExit("the intake server did not start")
            time.sleep(0.05)
        port, secret, endpoint_id = Path(port_file).read_text().split()
        runs = [
            asyncio.run(
                drive(
                    int(port),
                    secret,
                    f"/webhooks/jira/{endpoint_id}",
                    args.seconds,
                    args.conns,
                    child.pid,
                    tag=str(run),
                )
            )
            for run in range(1, args.runs + 1)
        ]
        for run, figures in enumerate(runs, 1):
            _report(run, figures)
        rates = sorted(r["rate"] for r in runs)
        p99s = sorted(r["p99"] for r in runs)
        per_cpu = sorted(r["per_cpu_second"] for r in runs)
        print(
            f"best {rates[-1]:,.0f}/s (median {statistics.median(rates):,.0f}/s); p99 best "
            f"{p99s[0]:.1f} ms (median {statistics.median(p99s):.1f} ms); server CPU: best "
            f"{per_cpu[-1]:,.0f} deliveries/CPU-s (median {statistics.median(per_cpu):,.0f}); "
            f"target >= {TARGET_RATE:.0f}/s with p99 < {TARGET_P99_MS:.0f} ms"
        )
    finally:
        child.terminate()
        child.wait(timeout=10)


if __name__ == "__main__":
    main()
