"""What the simulator's edges cost per request: the ASGI chain driven directly, no HTTP client.

Runs a trivial inner app behind the gateway, rate-limit and fault middlewares (as
``create_sim_app`` stacks them) and without them, and prints requests per second for each
profile with latency off. Usage: ``.venv/bin/python -m bench.sim_edges_overhead [N]``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from jirabridge.sim.asgi_json import ASGIApp, Message, Receive, Scope, Send
from jirabridge.sim.clock import SimClock
from jirabridge.sim.edges import EdgeConfig, SimEdges

_BODY = b'{"ok":true}'


async def _inner(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"11")]}
    )
    await send({"type": "http.response.body", "body": _BODY})


def _chain(edges: SimEdges) -> ASGIApp:
    app: ASGIApp = _inner
    for item in reversed(edges.middleware()):
        app = item.cls(app, *item.args, **item.kwargs)
    return app


async def _drive(app: ASGIApp, n: int) -> float:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    start = time.perf_counter()
    for i in range(n):
        scope: dict[str, Any] = {
            "type": "http",
            "method": "GET",
            "path": f"/rest/api/3/issue/DEMO-{i % 500}",
            "headers": [(b"host", b"sim")],
            "query_string": b"",
        }
        await app(scope, receive, send)
    return n / (time.perf_counter() - start)


async def main(n: int) -> None:
    print(f"bare app: {await _drive(_inner, n):,.0f} req/s")
    for profile in ("clean", "limited", "faulty"):
        edges = SimEdges(
            EdgeConfig(
                profile=profile,
                fault_overrides={"latency_ms": 0.0},
                # A rate no request reaches: measure the bookkeeping, not refusals.
                ratelimit_overrides={"burst_rps": {"GET": 1e9}, "per_issue_enabled": False},
            ),
            SimClock(),
        )
        print(f"{profile:8} edges: {await _drive(_chain(edges), n):,.0f} req/s")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
