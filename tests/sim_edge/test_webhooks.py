"""Webhook delivery to a real receiver on 127.0.0.1: signatures, JWTs, retries, expiry."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import jwt
import pytest

from jirabridge.sim.events import SimEvent
from jirabridge.sim.webhooks import project_filter_matcher

from .edge_helpers import CLIENT_ID, CLIENT_SECRET, SITES, Receiver, StandInSite, build_site, serve
from .test_oauth import exchange, get_code

ALPHA = SITES[0].cloud_id


async def app_client(site: StandInSite, client: httpx.AsyncClient) -> httpx.AsyncClient:
    tokens = await exchange(client, await get_code(client, consent="auto"))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=site.app),
        base_url=f"http://sim.test/ex/jira/{ALPHA}",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )


async def test_admin_webhook_signed_delivery(site: StandInSite) -> None:
    receiver = Receiver()
    async with serve(receiver.app()) as hook_base, site.client() as client:
        created = await client.post(
            "/rest/webhooks/1.0/webhook",
            json={
                "name": "ours",
                "url": f"{hook_base}/hook",
                "events": ["jira:issue_created"],
                "filters": {"issue-related-events-section": "project = PROJ"},
                "secret": "It's a Secret to Everybody",
            },
        )
        assert created.status_code == 201
        body = created.json()
        assert body["filters"] == {"issue-related-events-section": "project = PROJ"}
        assert "secret" not in body
        assert body["self"].endswith("/rest/webhooks/1.0/webhook/1")
        listed = await client.get("/rest/webhooks/1.0/webhook")
        assert [h["name"] for h in listed.json()] == ["ours"]

        await client.post("/rest/api/3/issue", json={"project": "PROJ", "summary": "a"})
        await client.post("/rest/api/3/issue", json={"project": "OTHER", "summary": "b"})
        await site.edges.webhooks.drain()

        [(headers, raw)] = receiver.received
        expected = hmac.new(b"It's a Secret to Everybody", raw, hashlib.sha256).hexdigest()
        assert headers["x-hub-signature"] == f"sha256={expected}"
        assert "x-atlassian-webhook-retry" not in headers
        assert headers["x-atlassian-webhook-identifier"]
        payload = json.loads(raw)
        assert payload["webhookEvent"] == "jira:issue_created"
        assert payload["issue"]["key"] == "PROJ-1"

        log = (await client.get("/_sim/webhooks/deliveries")).json()
        assert [(d["state"], d["event"], d["kind"]) for d in log] == [
            ("delivered", "jira:issue_created", "admin")
        ]
        assert log[0]["attempts"][0]["status"] == 200

        assert (await client.delete("/rest/webhooks/1.0/webhook/1")).status_code == 204
        assert (await client.get("/rest/webhooks/1.0/webhook/1")).status_code == 404


async def test_failed_delivery_is_retried_with_the_same_identifier(site: StandInSite) -> None:
    receiver = Receiver(statuses=[503, 500])
    async with serve(receiver.app()) as hook_base, site.client() as client:
        await client.post(
            "/_sim/webhooks",
            json={"name": "r", "url": f"{hook_base}/hook", "events": ["jira:issue_created"]},
        )
        await client.post("/rest/api/3/issue", json={"summary": "a"})
        await site.edges.webhooks.drain()
        assert len(receiver.received) == 1
        # The retry waits on the simulated clock: nothing more until it moves 5-15 minutes.
        site.clock.advance(299)
        await site.edges.webhooks.drain()
        assert len(receiver.received) == 1
        for _ in range(2):
            site.clock.advance(901)
            await site.edges.webhooks.drain()
        assert len(receiver.received) == 3
        ids = {h["x-atlassian-webhook-identifier"] for h, _ in receiver.received}
        assert len(ids) == 1
        retries = [h.get("x-atlassian-webhook-retry") for h, _ in receiver.received]
        assert retries == [None, "1", "2"]
        assert len({raw for _, raw in receiver.received}) == 1
        [delivery] = (await client.get("/_sim/webhooks/deliveries")).json()
        assert delivery["state"] == "delivered"
        assert [a["status"] for a in delivery["attempts"]] == [503, 500, 200]


async def test_retries_are_bounded_and_4xx_is_final() -> None:
    site = build_site("clean")
    site.edges.webhooks.config.max_retries = 2
    receiver = Receiver(statuses=[500] * 10)
    async with serve(receiver.app()) as hook_base, site.client() as client:
        site.edges.webhooks.add_admin(
            name="down", url=f"{hook_base}/hook", events=["jira:issue_created"]
        )
        await client.post("/rest/api/3/issue", json={"summary": "a"})
        for _ in range(5):
            await site.edges.webhooks.drain()
            site.clock.advance(901)
        assert len(receiver.received) == 3
        assert site.edges.webhooks.deliveries[0].state == "failed"

        receiver.statuses = [404]
        await client.post("/rest/api/3/issue", json={"summary": "b"})
        await site.edges.webhooks.drain()
        site.clock.advance(901)
        await site.edges.webhooks.drain()
        assert len(receiver.received) == 4
        assert site.edges.webhooks.deliveries[1].state == "failed"
    await site.edges.webhooks.aclose()


async def test_unreachable_receiver_is_retried() -> None:
    site = build_site("clean")
    receiver = Receiver()
    async with serve(receiver.app()) as hook_base:
        pass  # the port is free again: nothing listens there now
    site.edges.webhooks.add_admin(name="gone", url=f"{hook_base}/hook", events=["e"])
    site.bus.publish(SimEvent("e", {"webhookEvent": "e"}, 0))
    await site.edges.webhooks.drain()
    [delivery] = site.edges.webhooks.deliveries
    assert delivery.state == "pending"
    assert delivery.retries == 1
    assert delivery.attempts[0].status is None
    assert delivery.attempts[0].error
    await site.edges.webhooks.aclose()


async def test_simulated_delivery_failures_then_success() -> None:
    site = build_site("clean", fault_overrides={"webhook_failure_rate": 1.0})
    receiver = Receiver()
    async with serve(receiver.app()) as hook_base:
        site.edges.webhooks.add_admin(name="x", url=f"{hook_base}/hook", events=["e"])
        site.bus.publish(SimEvent("e", {"webhookEvent": "e"}, 0))
        await site.edges.webhooks.drain()
        assert receiver.received == []
        site.edges.faults.config = site.edges.faults.config.updated({"webhook_failure_rate": 0})
        site.clock.advance(901)
        await site.edges.webhooks.drain()
        [(headers, _)] = receiver.received
        assert headers["x-atlassian-webhook-retry"] == "1"
        assert site.edges.faults.counters["webhook_failures"] == 1
    await site.edges.webhooks.aclose()


async def test_dynamic_webhooks_register_deliver_jwt_refresh_and_expire() -> None:
    # A long-lived access token, so the test can jump weeks without refreshing it.
    site = build_site(access_token_ttl=100 * 86400.0)
    receiver = Receiver()
    async with serve(receiver.app()) as hook_base, site.client() as client:
        app = await app_client(site, client)
        async with app:
            registered = await app.post(
                "/rest/api/3/webhook",
                json={
                    "url": f"{hook_base}/hook",
                    "webhooks": [
                        {"events": ["jira:issue_created"], "jqlFilter": "project = PROJ"},
                        {"events": ["worklog_created"], "jqlFilter": "project = PROJ"},
                        {"events": ["jira:issue_created"], "jqlFilter": ""},
                        {"events": ["jira:issue_created"], "jqlFilter": "watchCount = 1"},
                    ],
                },
            )
            assert registered.status_code == 200
            results = registered.json()["webhookRegistrationResult"]
            assert results[0] == {"createdWebhookId": 1}
            assert "worklog_created" in results[1]["errors"][0]
            assert results[2]["errors"] == ["The JQL filter is required."]
            assert "unsupported" in results[3]["errors"][0]

            listed = (await app.get("/rest/api/3/webhook")).json()
            assert listed["total"] == 1
            assert listed["isLast"] is True
            [hook] = listed["values"]
            expiry = int((site.clock.time() + 30 * 86400) * 1000)
            assert hook["expirationDate"] == expiry
            assert hook["jqlFilter"] == "project = PROJ"

            await client.post("/rest/api/3/issue", json={"project": "PROJ", "summary": "a"})
            await site.edges.webhooks.drain()
            [(headers, raw)] = receiver.received
            scheme, _, token = headers["authorization"].partition(" ")
            assert scheme == "JWT"
            claims = jwt.decode(
                token,
                CLIENT_SECRET,
                algorithms=["HS256"],
                audience=CLIENT_ID,
                options={"verify_exp": False, "verify_iat": False},
            )
            assert claims["iss"] == f"jira:{ALPHA}"
            assert claims["sub"] == "5b10ac8d82e05b22cc7d4ef5"
            with pytest.raises(jwt.InvalidSignatureError):
                jwt.decode(token, "w" * 32, algorithms=["HS256"], audience=CLIENT_ID)
            assert "x-hub-signature" not in headers
            assert json.loads(raw)["matchedWebhookIds"] == [1]

            # Refresh at day 20 gives 30 days from then; at day 51 it is gone.
            site.clock.advance(20 * 86400)
            refreshed = await app.put("/rest/api/3/webhook/refresh", json={"webhookIds": [1, 77]})
            assert refreshed.json() == {
                "expirationDate": int((site.clock.time() + 30 * 86400) * 1000)
            }
            site.clock.advance(29 * 86400)
            assert (await app.get("/rest/api/3/webhook")).json()["total"] == 1
            site.clock.advance(2 * 86400)
            assert (await app.get("/rest/api/3/webhook")).json()["total"] == 0
            await client.post("/rest/api/3/issue", json={"project": "PROJ", "summary": "b"})
            await site.edges.webhooks.drain()
            assert len(receiver.received) == 1
    await site.edges.webhooks.aclose()


async def test_dynamic_webhook_rules(site: StandInSite) -> None:
    async with site.client() as client:
        # Basic-auth callers are not apps.
        denied = await client.get("/rest/api/3/webhook")
        assert denied.status_code == 403
        assert denied.json()["errorMessages"] == ["Only apps can access this resource."]
        app = await app_client(site, client)
        async with app:
            one = {"events": ["jira:issue_updated"], "jqlFilter": "project = PROJ"}
            body = {"url": "https://app.test/hooks", "webhooks": [one] * 6}
            results = (await app.post("/rest/api/3/webhook", json=body)).json()
            results = results["webhookRegistrationResult"]
            assert [("createdWebhookId" in r) for r in results] == [True] * 5 + [False]
            other_url = await app.post(
                "/rest/api/3/webhook", json={"url": "https://other.test/x", "webhooks": [one]}
            )
            assert other_url.status_code == 400
            page = (await app.get("/rest/api/3/webhook", params={"maxResults": 2})).json()
            assert (page["total"], page["isLast"], len(page["values"])) == (5, False, 2)
            bad = await app.request("DELETE", "/rest/api/3/webhook", json={})
            assert bad.status_code == 400
            gone = await app.request("DELETE", "/rest/api/3/webhook", json={"webhookIds": [1, 2]})
            assert gone.status_code == 202
            assert (await app.get("/rest/api/3/webhook")).json()["total"] == 3


async def test_dynamic_webhooks_get_no_worklog_events_and_honour_field_filters(
    site: StandInSite,
) -> None:
    hooks = site.edges.webhooks
    principal: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "cloud_id": ALPHA,
        "account_id": "a",
        "auth_kind": "oauth",
    }
    hooks.register_dynamic(
        principal,
        "https://app.test/h",
        [{"events": ["jira:issue_updated"], "jqlFilter": "project = P", "fieldIdsFilter": ["x"]}],
    )
    hooks.add_admin(name="a", url="https://admin.test/h", events=["worklog_created"])
    changelog = {"changelog": {"items": [{"fieldId": "summary"}]}}
    hooks.on_event(SimEvent("jira:issue_updated", changelog, 0, "P", "P-1"))
    hooks.on_event(SimEvent("worklog_created", {}, 0, "P", "P-1"))
    changelog_x = {"changelog": {"items": [{"fieldId": "x"}]}}
    hooks.on_event(SimEvent("jira:issue_updated", changelog_x, 0, "P", "P-1"))
    queued = [(d.kind, d.event) for d in hooks.deliveries]
    assert queued == [("admin", "worklog_created"), ("dynamic", "jira:issue_updated")]


def test_project_filter_matcher() -> None:
    event = SimEvent("jira:issue_created", {}, 0, "PROJ", "PROJ-3")
    assert project_filter_matcher("project = PROJ", event)
    assert project_filter_matcher('project in (OTHER, "PROJ")', event)
    assert not project_filter_matcher("project != PROJ", event)
    assert not project_filter_matcher("project not in (PROJ)", event)
    assert project_filter_matcher("project = PROJ AND issuekey = PROJ-3", event)
    assert not project_filter_matcher("project = PROJ and key = PROJ-4", event)
    assert project_filter_matcher("project = PROJ AND status = Done", event)
    with pytest.raises(ValueError, match="unsupported"):
        project_filter_matcher("watchCount = 1", event)
    with pytest.raises(ValueError, match="parentheses"):
        project_filter_matcher("project in PROJ", event)
