"""The webhook routes inside the real app factory: API, intake, events page, owner scoping."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from jirabridge.github.webhooks import github_signature
from jirabridge.service.settings import load_settings
from jirabridge.web.app import create_app

from .conftest import FIXTURES

PASSWORD = "a long enough password 1"


async def _login(client: httpx.AsyncClient, email: str) -> str:
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303
    listing = await client.get("/events")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', listing.text)
    assert csrf
    return csrf.group(1)


@pytest.mark.slow
async def test_endpoint_api_intake_events_page_and_scoping(tmp_path: Path) -> None:
    app = create_app(load_settings(data_dir=tmp_path, environment="test"), workers=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as alice:
            assert (await alice.get("/events")).status_code == 303
            await alice.get("/login")  # builds the accounts services lazily
            accounts = app.state.accounts
            await accounts.accounts.create_user(email="alice@x.io", password=PASSWORD)
            await accounts.accounts.create_user(email="bob@x.io", password=PASSWORD)
            csrf = await _login(alice, "alice@x.io")

            created = await alice.post(
                "/api/webhooks/endpoints",
                json={"name": "repo", "source": "github"},
                headers={"X-CSRF-Token": csrf},
            )
            assert created.status_code == 201, created.text
            secret = created.json()["secret"]
            endpoint = created.json()["endpoint"]
            assert endpoint["url"].endswith(f"/webhooks/github/{endpoint['id']}")
            listed = (await alice.get("/api/webhooks/endpoints")).json()
            assert [e["id"] for e in listed] == [endpoint["id"]]
            assert "secret" not in listed[0]

            body = (FIXTURES / "github" / "pull_request.opened.json").read_bytes()
            headers = {
                "Content-Type": "application/json",
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": "pr-1",
                "X-Hub-Signature-256": github_signature(body, secret),
            }
            posted = await alice.post(
                f"/webhooks/github/{endpoint['id']}", content=body, headers=headers
            )
            assert posted.status_code == 202
            await app.state.webhooks.worker.drain()
            [delivery] = (await alice.get("/api/webhooks/deliveries")).json()
            assert (delivery["delivery_id"], delivery["status"]) == ("pr-1", "done")
            page = (await alice.get("/events")).text
            assert "pr-1" in page
            assert 'href="/events"' in page

        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as bob:
            csrf = await _login(bob, "bob@x.io")
            assert (await bob.get("/api/webhooks/deliveries")).json() == []
            assert (await bob.get("/api/webhooks/endpoints")).json() == []
            replay = await bob.post(
                f"/api/webhooks/deliveries/{delivery['id']}/replay",
                headers={"X-CSRF-Token": csrf},
            )
            assert replay.status_code == 404
            assert "pr-1" not in (await bob.get("/events")).text
