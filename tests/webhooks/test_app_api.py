"""The webhook routes inside the real app factory: API, intake, events page, owner scoping."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest

from jirabridge.github.webhooks import github_signature
from jirabridge.jira.webhooks import hub_signature
from jirabridge.service.settings import load_settings
from jirabridge.store.account_models import ConnectionKind
from jirabridge.store.webhooks import Owner
from jirabridge.sync.status_sync import StatusSync
from jirabridge.web.app import create_app
from jirabridge.web.routes.webhooks import webhooks_for_app

from .conftest import FIXTURES, PASSWORD, login, make_connection


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
            csrf = await login(alice, "alice@x.io")

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
            csrf = await login(bob, "bob@x.io")
            assert (await bob.get("/api/webhooks/deliveries")).json() == []
            assert (await bob.get("/api/webhooks/endpoints")).json() == []
            replay = await bob.post(
                f"/api/webhooks/deliveries/{delivery['id']}/replay",
                headers={"X-CSRF-Token": csrf},
            )
            assert replay.status_code == 404
            assert "pr-1" not in (await bob.get("/events")).text


@pytest.mark.slow
async def test_admin_webhook_for_a_token_connection_and_the_health_view(tmp_path: Path) -> None:
    app = create_app(load_settings(data_dir=tmp_path, environment="test"), workers=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as alice:
            await alice.get("/login")
            accounts = app.state.accounts
            ada = await accounts.accounts.create_user(email="alice@x.io", password=PASSWORD)
            await accounts.accounts.create_user(email="bob@x.io", password=PASSWORD)
            csrf = await login(alice, "alice@x.io")
            context = webhooks_for_app(app)
            site = await make_connection(
                context.sessions, Owner(user_id=ada.id), ConnectionKind.CLOUD_TOKEN
            )
            async with context.sessions() as session:
                await StatusSync.link(
                    session,
                    owner_user_id=ada.id,
                    owner_team_id=None,
                    connection_id=site,
                    issue_key="DEMO-3",
                    subject_kind="story",
                    subject_id="s-3",
                    local_state="todo",
                )
                await session.commit()

            page = await alice.post(
                "/events/endpoints",
                data={"name": "jira admin", "connection_id": site, "csrf_token": csrf},
            )
            assert page.status_code == 201, page.text
            secret = re.search(r'class="endpoint-secret">([^<]+)<', page.text)
            url = re.search(r'class="endpoint-url">([^<]+)<', page.text)
            assert secret is not None
            assert url is not None
            # The JQL filter for the projects in use (values quoted, as jql_string does).
            assert 'project in ("DEMO")' in html.unescape(page.text)
            assert "Settings &gt; System &gt; WebHooks" in page.text
            endpoint_id = url.group(1).rsplit("/", 1)[1]
            # Shown once: the listing never has it.
            assert secret.group(1) not in (await alice.get("/events")).text

            [before] = (await alice.get("/api/webhooks/health")).json()
            assert (before["endpoint"]["id"], before["endpoint"]["last_event_at"]) == (
                endpoint_id,
                None,
            )
            body = b'{"webhookEvent": "jira:issue_updated", "timestamp": 1}'
            posted = await alice.post(
                f"/webhooks/jira/{endpoint_id}",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature": hub_signature(body, secret.group(1)),
                    "X-Atlassian-Webhook-Identifier": "first",
                },
            )
            assert posted.status_code == 202
            [after] = (await alice.get("/api/webhooks/health")).json()
            assert after["endpoint"]["last_event_at"] is not None
            assert after["pending"] == 1
            await context.worker.drain()
            [drained] = (await alice.get("/api/webhooks/health")).json()
            assert (drained["pending"], drained["dead"]) == (0, 0)

        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as bob:
            csrf = await login(bob, "bob@x.io")
            refused = await bob.post(
                "/api/webhooks/endpoints",
                json={"name": "sneaky", "source": "jira", "connection_id": site},
                headers={"X-CSRF-Token": csrf},
            )
            assert refused.status_code == 404
            assert (await bob.get("/api/webhooks/health")).json() == []
