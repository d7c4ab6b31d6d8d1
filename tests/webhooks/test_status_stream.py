"""The live status stream (server-sent events) over real HTTP: events arrive, both from this
process and from changes another process wrote, and a reconnect with ``Last-Event-ID`` resumes
after the last event seen."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from jirabridge.service.settings import load_settings
from jirabridge.sync.status_plan import IncomingStatus
from jirabridge.sync.status_sync import StatusSync
from jirabridge.web.app import create_app
from jirabridge.web.routes.webhooks import webhooks_for_app

from .conftest import PASSWORD, follow, login
from .receiver import serve

pytestmark = pytest.mark.slow

TIMEOUT = 30.0  # turns a hang into a failure; measures nothing


async def _next_event(lines: AsyncIterator[str], newer_than: int = 0) -> dict[str, Any]:
    """The next ``status`` event of the stream with a link version above ``newer_than``.

    A fresh stream first repeats the last few seconds of changes (so a change made between
    rendering the page and connecting is not lost); older versions are skipped here.
    """
    fields: dict[str, str] = {}
    async for line in lines:
        if line == "":
            if fields.get("event") == "status":
                event = {"id": fields["id"], **json.loads(fields["data"])}
                if event["version"] > newer_than:
                    return event
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")
    raise AssertionError("the stream ended")


async def test_status_stream_delivers_changes_and_resumes_after_last_event_id(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path, environment="test", webhook_schedule_tick_sec=0)
    app = create_app(settings, workers=False)
    async with (
        app.router.lifespan_context(app),
        serve(app) as base,
        httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as client,
    ):
        await client.get("/login")
        user = await app.state.accounts.accounts.create_user(email="ada@x.io", password=PASSWORD)
        await login(client, "ada@x.io")
        context = webhooks_for_app(app)
        link_id = await follow(context.sessions, user.id, "site-1", "DEMO-1", "s-1")

        async def move(status: StatusSync, name: str, category: str) -> None:
            async with context.sessions() as session:
                await status.apply_incoming_status(
                    session,
                    "site-1",
                    IncomingStatus("DEMO-1", name, category),
                    datetime.now(UTC),
                )
                await session.commit()

        async with client.stream("GET", "/api/webhooks/status-events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            # In this process: the change wakes the stream.
            await move(context.status, "In Progress", "indeterminate")
            first = await _next_event(lines, newer_than=0)
            assert (first["link_id"], first["jira_status"], first["local_state"]) == (
                link_id,
                "In Progress",
                "in_progress",
            )
            # Another process (its own StatusSync, no wake-up): found by the stream's poll.
            await move(StatusSync(), "Review", "indeterminate")
            second = await _next_event(lines, newer_than=first["version"])
            assert second["jira_status"] == "Review"
            assert int(second["id"]) > int(first["id"])

        # Disconnected while Jira moves on; the browser resumes with its last id.
        await move(StatusSync(), "Done", "done")
        async with client.stream(
            "GET", "/api/webhooks/status-events", headers={"Last-Event-ID": second["id"]}
        ) as resumed:
            third = await _next_event(resumed.aiter_lines())
            # Nothing older than the resume point was repeated.
            assert third["version"] == second["version"] + 1
        assert (third["jira_status"], third["local_state"]) == ("Done", "done")
