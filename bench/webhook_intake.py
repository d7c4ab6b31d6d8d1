"""Webhook intake throughput: verify + persist + acknowledge, over real HTTP on loopback.

``python -m bench.webhook_intake [--seconds 8] [--conns 16] [--database-url URL]``

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TARGET_RATE = 500.0
TARGET_P99_MS = 50.0


def serve(url: str, port_file: str) -> None:
    """Child process: migrate, create one endpoint, write ``port secret id``, serve."""
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

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(webhooks.intake_router)
    settings = Settings(data_dir=Path(tempfile.mkdtemp()))
    app.state.webhooks = build_webhooks_context(settings, sessions, box=box)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)

    endpoint_id, secret = asyncio.run(setup())
    Path(port_file).write_text(f"{sock.getsockname()[1]} {secret} {endpoint_id}")
    asyncio.run(server.serve(sockets=[sock]))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    base: str, secret: str, endpoint_id: str, seconds: float, conns: int, server_pid: int
) -> None:
    """Post signed deliveries for ``seconds`` from ``conns`` connections; print the figures."""
    from jirabridge.jira.webhooks import hub_signature

    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = 0

    async def one_connection(client: httpx.AsyncClient) -> None:
        nonlocal counter
        while time.perf_counter() < deadline:
            counter += 1
            body = json.dumps(
                {
                    "webhookEvent": "jira:issue_updated",
                    "timestamp": counter,
                    "issue": {"key": "A-1"},
                }
            ).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature": hub_signature(body, secret),
                "X-Atlassian-Webhook-Identifier": f"bench-{counter}",
            }
            start = time.perf_counter()
            answer = await client.post(
                f"/webhooks/jira/{endpoint_id}", content=body, headers=headers
            )
            latencies.append(time.perf_counter() - start)
            if answer.status_code != 202:
                raise SystemExit(f"unexpected {answer.status_code}: {answer.text}")

    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(base_url=base, limits=limits) as client:
        began = time.perf_counter()
        cpu_before = _cpu_seconds(server_pid)
        await asyncio.gather(*(one_connection(client) for _ in range(conns)))
        elapsed = time.perf_counter() - began
        server_cpu = _cpu_seconds(server_pid) - cpu_before
    latencies.sort()
    rate = len(latencies) / elapsed
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    verdict = "MET" if rate >= TARGET_RATE and p99 < TARGET_P99_MS else "NOT MET"
    print(
        f"{len(latencies)} deliveries in {elapsed:.1f}s: {rate:,.0f}/s, "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (target >= {TARGET_RATE:.0f}/s, "
        f"p99 < {TARGET_P99_MS:.0f} ms: {verdict}); load average {os.getloadavg()[0]:.1f}; "
        f"{len(latencies) / max(server_cpu, 1e-9):,.0f} deliveries per server CPU-second"
    )


def main() -> None:
    """Start the server child, drive it, stop it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    folder = tempfile.mkdtemp(prefix="jb-bench-")
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    port_file = os.path.join(folder, "port")
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.webhook_intake", "--serve", url, port_file]
    )
    try:
        started = time.monotonic()
        while not os.path.exists(port_file) or not Path(port_file).read_text():
            if child.poll() is not None or time.monotonic() - started > 60:
                raise SystemExit("the intake server did not start")
            time.sleep(0.05)
        port, secret, endpoint_id = Path(port_file).read_text().split()
        asyncio.run(
            drive(
                f"http://127.0.0.1:{port}",
                secret,
                endpoint_id,
                args.seconds,
                args.conns,
                child.pid,
            )
        )
    finally:
        child.terminate()
        child.wait(timeout=10)


if __name__ == "__main__":
    main()
