"""The edges wired into the simulator core's app, with spec validation on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette

from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.edges import SimEdges

from .edge_helpers import START, Receiver, serve
from support.sim_oauth import oauth_client as _oauth_client

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks" / "jira"
ISSUE = {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "Hi"}}


def make_app(**overrides: Any) -> Starlette:
    options: dict[str, Any] = {"validate": True, "frozen_at": START, "base_url": "http://sim.test"}
    options.update(overrides)
    return create_sim_app(SimConfig(**options))


def edges_of(app: Starlette) -> SimEdges:
    runtime: SimRuntime = app.state.sim
    assert runtime.edges is not None
    return runtime.edges


def admin_client(app: Starlette, *, anonymous: bool = False) -> httpx.AsyncClient:
    runtime: SimRuntime = app.state.sim
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sim.test",
        auth=None if anonymous else (runtime.admin_email, runtime.admin_token),
    )


async def oauth_client(app: Starlette) -> httpx.AsyncClient:
    """Do the 3LO dance with the simulator's registered app; a client on the gateway."""
    async with admin_client(app, anonymous=True) as client:
        return await _oauth_client(app, client)


@pytest.fixture
async def app() -> AsyncIterator[Starlette]:
    built = make_app()
    yield built
    await edges_of(built).webhooks.aclose()


async def test_gateway_calls_reach_the_core_as_the_consenting_user(app: Starlette) -> None:
    runtime: SimRuntime = app.state.sim
    async with admin_client(app, anonymous=True) as client:
        gw = await oauth_client(app)
        async with gw:
            me = await gw.get("/rest/api/3/myself")
            assert me.status_code == 200
            assert me.json()["accountId"] == runtime.site.user_id(runtime.admin)
            created = await gw.post("/rest/api/3/issue", json=ISSUE)
            assert created.status_code == 201
            issue = await gw.get(f"/rest/api/3/issue/{created.json()['key']}")
            assert issue.json()["fields"]["summary"] == "Hi"
        # Without the gateway's principal, the core asks for credentials as before.
        assert (await client.get("/rest/api/3/myself")).status_code == 401


async def test_admin_webhook_delivers_core_events_with_the_fixture_shape(app: Starlette) -> None:
    receiver = Receiver()
    async with serve(receiver.app()) as hook_base, admin_client(app) as client:
        created = await client.post(
            "/rest/webhooks/1.0/webhook",
            json={
                "name": "all",
                "url": f"{hook_base}/hook",
                "events": ["jira:issue_created", "jira:issue_updated", "comment_created"],
                "filters": {"issue-related-events-section": "project = DEMO AND issuetype = Task"},
                "secret": "s3cret",
            },
        )
        assert created.status_code == 201
        key = (await client.post("/rest/api/3/issue", json=ISSUE)).json()["key"]
        story = {"fields": {**ISSUE["fields"], "issuetype": {"name": "Story"}}}
        assert (await client.post("/rest/api/3/issue", json=story)).status_code == 201
        await client.put(f"/rest/api/3/issue/{key}", json={"fields": {"summary": "Changed"}})
        await edges_of(app).webhooks.drain()

        events = [json.loads(raw)["webhookEvent"] for _, raw in receiver.received]
        assert events == ["jira:issue_created", "jira:issue_updated"]
        created_body = json.loads(receiver.received[0][1])
        fixture = json.loads((FIXTURES / "mattermost-webhook-issue-created.json").read_text())
        assert set(fixture) <= set(created_body) | {"user"}
        assert created_body["issue"]["key"] == key
        updated = json.loads(receiver.received[1][1])
        assert any(i["field"] == "summary" for i in updated["changelog"]["items"])


async def test_admin_webhook_rest_needs_an_administrator(app: Starlette) -> None:
    runtime: SimRuntime = app.state.sim
    other = next(u for u in runtime.site.users.values() if not u.admin)
    body = {"name": "x", "url": "http://127.0.0.1:9/h", "events": ["jira:issue_created"]}
    async with admin_client(app, anonymous=True) as anonymous:
        assert (await anonymous.post("/rest/webhooks/1.0/webhook", json=body)).status_code == 401
        user = (other.email, other.api_token)
        refused = await anonymous.post("/rest/webhooks/1.0/webhook", json=body, auth=user)
        assert refused.status_code == 403


async def test_dynamic_webhooks_filter_with_the_core_jql_and_sign_with_the_app_secret(
    app: Starlette,
) -> None:
    receiver = Receiver()
    [registered] = edges_of(app).oauth.config.clients
    async with serve(receiver.app()) as hook_base:
        gw = await oauth_client(app)
        async with gw:
            result = await gw.post(
                "/rest/api/3/webhook",
                json={
                    "url": f"{hook_base}/hook",
                    "webhooks": [
                        {"events": ["jira:issue_created"], "jqlFilter": "issuetype = Story"},
                        {"events": ["jira:issue_created"], "jqlFilter": "summary ~ x"},
                    ],
                },
            )
            results = result.json()["webhookRegistrationResult"]
            assert results[0] == {"createdWebhookId": 1}
            assert results[1]["errors"] == ["The clause summary is unsupported"]
            listed = await gw.get("/rest/api/3/webhook")
            assert listed.json()["values"][0]["jqlFilter"] == "issuetype = Story"
            refreshed = await gw.put("/rest/api/3/webhook/refresh", json={"webhookIds": [1]})
            assert refreshed.status_code == 200

            await gw.post("/rest/api/3/issue", json=ISSUE)
            story = {"fields": {**ISSUE["fields"], "issuetype": {"name": "Story"}}}
            story_key = (await gw.post("/rest/api/3/issue", json=story)).json()["key"]
            await edges_of(app).webhooks.drain()
            [(headers, raw)] = receiver.received
            assert json.loads(raw)["issue"]["key"] == story_key
            token = headers["authorization"].removeprefix("JWT ")
            claims = jwt.decode(
                token,
                registered.client_secret,
                algorithms=["HS256"],
                audience=registered.client_id,
                options={"verify_exp": False, "verify_iat": False},
            )
            assert claims["aud"] == registered.client_id
            deleted = await gw.request("DELETE", "/rest/api/3/webhook", json={"webhookIds": [1]})
            assert deleted.status_code == 202


async def test_faulty_profile_sets_the_core_search_lag_and_follows_profile_changes() -> None:
    app = make_app(profile="faulty")
    runtime: SimRuntime = app.state.sim
    assert (runtime.site.index.lag_min, runtime.site.index.lag_max) == (1.0, 3.0)
    async with admin_client(app) as client:
        await client.put("/_sim/faults", json={"profile": "clean"})
        assert runtime.site.index.lag_max == 0.0
        await client.post("/_sim/reset")
        assert runtime.site.index.lag_max == 0.0


async def test_rate_limited_answers_pass_the_validation_and_are_counted() -> None:
    app = make_app(profile="limited")
    async with admin_client(app) as client:
        await client.put("/_sim/faults", json={"ratelimit": {"burst_rps": {"GET": 2.0}}})
        statuses = [(await client.get("/rest/api/3/myself")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limits = (await client.get("/_sim/ratelimit")).json()
        assert limits["limitedByReason"] == {"jira-burst-based": 1}


async def test_sim_reset_forgets_grants_webhooks_and_counters(app: Starlette) -> None:
    gw = await oauth_client(app)
    async with gw, admin_client(app) as client:
        body = {
            "url": "http://127.0.0.1:9/h",
            "webhooks": [{"events": ["jira:issue_created"], "jqlFilter": "project = DEMO"}],
        }
        assert (await gw.post("/rest/api/3/webhook", json=body)).status_code == 200
        assert (await client.get("/_sim/oauth")).json()["grants"]
        assert (await client.post("/_sim/reset")).status_code in (200, 204)
        assert (await client.get("/_sim/oauth")).json()["grants"] == []
        assert (await client.get("/_sim/webhooks")).json() == {"admin": [], "dynamic": []}
        assert (await client.get("/_sim/ratelimit")).json()["allowed"] == 0
        # The old access token belongs to a forgotten grant.
        assert (await gw.get("/rest/api/3/myself")).status_code == 401


async def test_basic_and_gateway_traffic_share_the_sites_burst_bucket() -> None:
    app = make_app(profile="limited")
    gw = await oauth_client(app)
    async with gw, admin_client(app) as client:
        await client.put("/_sim/faults", json={"ratelimit": {"burst_rps": {"GET": 3.0}}})
        assert (await client.get("/rest/api/3/myself")).status_code == 200
        assert (await gw.get("/rest/api/3/myself")).status_code == 200
        assert (await client.get("/rest/api/3/myself")).status_code == 200
        assert (await gw.get("/rest/api/3/myself")).status_code == 429


async def test_datacenter_has_no_oauth_apps_or_dynamic_webhooks() -> None:
    app = make_app(flavor="datacenter")
    async with admin_client(app) as client:
        assert not edges_of(app).oauth.config.clients
        assert (await client.get("/rest/api/3/webhook")).status_code == 404
        listed = await client.get("/rest/webhooks/1.0/webhook")
        assert listed.status_code == 200
        assert listed.json() == []


async def test_per_issue_limit_counts_writes_by_id_and_by_key_together() -> None:
    app = make_app(profile="limited")
    async with admin_client(app) as client:
        created = (await client.post("/rest/api/3/issue", json=ISSUE)).json()
        edit = {"fields": {"summary": "again"}}
        for i in range(20):
            ref = created["id"] if i % 2 else created["key"]
            assert (await client.put(f"/rest/api/3/issue/{ref}", json=edit)).status_code == 204
        limited = await client.put(f"/rest/api/3/issue/{created['id']}", json=edit)
        assert limited.status_code == 429
        assert limited.headers["ratelimit-reason"] == "jira-per-issue-on-write"


async def test_under_a_real_server_deliveries_drain_over_http() -> None:
    from jirabridge.sim.server import running_sim

    receiver = Receiver()
    config = SimConfig(frozen_at=START, profile="clean")
    async with serve(receiver.app()) as hook_base:
        with running_sim(config) as (base_url, app):
            runtime: SimRuntime = app.state.sim
            auth = (runtime.admin_email, runtime.admin_token)
            async with httpx.AsyncClient(base_url=base_url, auth=auth) as client:
                hook = {"name": "h", "url": f"{hook_base}/hook", "events": ["jira:issue_created"]}
                assert (await client.post("/_sim/webhooks", json=hook)).status_code == 201
                assert (await client.post("/rest/api/3/issue", json=ISSUE)).status_code == 201
                log = (await client.post("/_sim/webhooks/drain")).json()
                assert [d["state"] for d in log] == ["delivered"]
    assert len(receiver.received) == 1


async def test_own_oauth_app_can_be_registered() -> None:
    from jirabridge.sim.oauth import OAuthClient

    mine = OAuthClient("my-client", "my-secret-" + "x" * 30)
    app = create_sim_app(SimConfig(frozen_at=START), oauth_clients=[mine])
    assert list(edges_of(app).oauth.config.clients) == [mine]
    gw = await oauth_client(app)
    async with gw:
        assert (await gw.get("/rest/api/3/myself")).status_code == 200
