"""Shared by the report tests: the demo's hand-written history at its scripted dates, and the
ways the tests reach the simulator holding it (a Jira client, a counting transport, a
connection)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx

from jirabridge.cli.demo_reports import DONE, add_report_history
from jirabridge.jira import JiraClient

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from jirabridge.service.connections import ConnectionInput

__all__ = ["AS_OF", "DONE", "CountingTransport", "build", "ms", "sim_connection", "sim_jira"]

#: "Now" for every report test: after both RPT sprints closed.
AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
#: Where the tests address the in-process simulator.
SIM_URL = "http://sim.test"


def ms(text: str) -> int:
    """'11-03 10:00' (November 2026, UTC) -> epoch milliseconds."""
    when = datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


build = add_report_history


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts requests by method and path on their way to the in-process simulator."""

    def __init__(self, app: Starlette) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.calls: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[f"{request.method} {request.url.path}"] += 1
        return await self.inner.handle_async_request(request)


def sim_jira(app: Starlette, transport: httpx.AsyncBaseTransport | None = None) -> JiraClient:
    """A Cloud client on the in-process simulator, as its admin."""
    runtime = app.state.sim
    return JiraClient.cloud(
        SIM_URL,
        email=runtime.admin_email,
        api_token=runtime.admin_token,
        transport=transport or httpx.ASGITransport(app=app),
    )


def sim_connection(app: Starlette) -> ConnectionInput:
    """A token connection to the in-process simulator, as its admin."""
    from jirabridge.service.connections import ConnectionInput
    from jirabridge.store.account_models import ConnectionKind

    runtime = app.state.sim
    return ConnectionInput(
        name="Simulated Jira",
        kind=ConnectionKind.CLOUD_TOKEN,
        base_url=SIM_URL,
        email=runtime.admin_email,
        secret=runtime.admin_token,
    )
