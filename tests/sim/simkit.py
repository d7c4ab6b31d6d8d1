"""Helpers shared by the simulator tests: a validating app with a frozen clock, clients."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette

from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app

__all__ = ["ADF", "FROZEN_AT", "client_for", "make_app"]

#: Every test site starts at the same instant, so output is reproducible.
FROZEN_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp()

ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hello"}]}],
}


def make_app(**overrides: Any) -> Starlette:
    """A simulator with the spec-validating middleware on and a frozen clock."""
    options: dict[str, Any] = {
        "validate": True,
        "frozen_at": FROZEN_AT,
        "base_url": "http://sim.test",
    }
    options.update(overrides)
    return create_sim_app(SimConfig(**options))


def client_for(app: Starlette, *, auth: Any = "admin") -> httpx.AsyncClient:
    """An httpx client on the app through ASGI; ``auth="admin"`` logs in as the seeded admin."""
    runtime: SimRuntime = app.state.sim
    if auth == "admin":
        auth = (runtime.admin_email, runtime.admin_token)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim.test", auth=auth
    )
