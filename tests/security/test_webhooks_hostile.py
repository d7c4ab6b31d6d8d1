"""Hostile webhook deliveries through the whole app: forged, replayed, expired, oversized,
malformed, mistyped. Nothing of them may be stored, except one copy of a genuine delivery."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from security.world import World, github_signature

pytestmark = pytest.mark.slow

BODY = json.dumps({"action": "opened", "issue": {"number": 7, "title": "hostile"}}).encode()


def _deliveries(world: World) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = world.call(
        "GET", "/api/webhooks/deliveries", world.admin, params={"limit": 500}
    ).json()
    return listed


def _github(world: World, body: bytes, signature: str | None, delivery: str, **extra: str) -> Any:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": delivery,
        **extra,
    }
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return world.call(
        "POST", f"/webhooks/github/{world.ids['endpoint_id']}", content=body, headers=headers
    )


def test_forged_github_deliveries_are_refused_and_not_stored(world: World) -> None:
    secret = world.secrets["webhook_secret"]
    good = github_signature(BODY, secret)
    before = len(_deliveries(world))
    forgeries = {
        "wrong secret": github_signature(BODY, secret + "x"),
        "signed another body": github_signature(BODY + b" ", secret),
        "missing header": None,
        "truncated": good[:-8],
        "no algorithm": good.removeprefix("sha256="),
        "sha1 claimed": "sha1=" + good.removeprefix("sha256=")[:40],
        "empty": "",
        "upper-case hex of another body": github_signature(b"{}", secret).upper(),
    }
    for n, (what, signature) in enumerate(forgeries.items()):
        answer = _github(world, BODY, signature, f"forged-{n}")
        assert answer.status_code == 401, (what, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert secret not in answer.text
    assert len(_deliveries(world)) == before


def test_a_replayed_delivery_is_acknowledged_and_stored_once(world: World) -> None:
    secret = world.secrets["webhook_secret"]
    body = json.dumps({"action": "opened", "issue": {"number": 8, "title": "replay"}}).encode()
    first = _github(world, body, github_signature(body, secret), "replay-1")
    assert first.status_code == 202, first.text
    for _ in range(3):
        again = _github(world, body, github_signature(body, secret), "replay-1")
        assert again.status_code == 200
        assert again.json()["duplicate"] is True
    stored = [d for d in _deliveries(world) if d["delivery_id"] == "replay-1"]
    assert len(stored) == 1


def test_malformed_and_mistyped_bodies(world: World) -> None:
    secret = world.secrets["webhook_secret"]
    before = len(_deliveries(world))
    broken = b'{"action": "opened", '
    answer = _github(world, broken, github_signature(broken, secret), "malformed-1")
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.status_code != 401
    not_object = b"[1, 2]"
    answer = _github(world, not_object, github_signature(not_object, secret), "malformed-2")
    assert 400 <= answer.status_code < 500, answer.text
    form = _github(
        world,
        BODY,
        github_signature(BODY, secret),
        "typed-1",
        **{"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415
    text = _github(
        world, BODY, github_signature(BODY, secret), "typed-2", **{"Content-Type": "text/plain"}
    )
    assert text.status_code == 415
    assert len(_deliveries(world)) == before


def test_oversized_chunked_body_is_refused_without_reading_it_all(world: World) -> None:
    """No Content-Length, 64 KiB chunks for 8 MiB: the app must stop after ~1 MiB."""
    chunk = b"x" * 65536
    total = 128
    served = {"chunks": 0}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if served["chunks"] >= total:
            return {"type": "http.request", "body": b"", "more_body": False}
        served["chunks"] += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    path = f"/webhooks/github/{world.ids['endpoint_id']}"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            (b"x-github-event", b"issues"),
            (b"x-github-delivery", b"huge-1"),
            (b"x-hub-signature-256", b"sha256=" + b"0" * 64),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def call() -> None:
        await world.app(scope, receive, send)

    assert world.client.portal is not None
    world.client.portal.call(call)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert served["chunks"] <= (1 << 20) // len(chunk) + 1, served


def test_a_declared_oversized_body_is_refused_up_front(world: World) -> None:
    big = b'{"pad": "' + b"x" * (1 << 20) + b'"}'
    answer = _github(world, big, github_signature(big, world.secrets["webhook_secret"]), "big-2")
    assert answer.status_code == 413


def _oauth_connection(world: World) -> str:
    """An OAuth connection row of the admin (a dynamic endpoint belongs to one); no tokens,
    since nothing here calls Jira with it."""
    runtime = world.app.state.runtime

    async def insert() -> str:
        async with runtime.sessions() as session:
            row = JiraConnectionRow(
                owner_user_id=world.admin.user_id,
                name="oauth",
                kind=ConnectionKind.OAUTH.value,
                base_url=world.sim_url,
            )
            session.add(row)
            await session.commit()
            return row.id

    connection_id: str = world.client.portal.call(insert)
    return connection_id


def _jira_endpoint(world: World, kind: str) -> tuple[str, str | None]:
    body: dict[str, str] = {"name": f"jira {kind}", "source": "jira", "kind": kind}
    if kind == "dynamic":
        body["connection_id"] = _oauth_connection(world)
    created = world.call("POST", "/api/webhooks/endpoints", world.admin, json=body)
    assert created.status_code == 201, created.text
    return created.json()["endpoint"]["id"], created.json()["secret"]


def _jira_body(identifier: str) -> bytes:
    return json.dumps(
        {
            "webhookEvent": "jira:issue_updated",
            "timestamp": 1_800_000_000_000,
            "issue": {"id": "10001", "key": "DEMO-1", "fields": {}},
            "matchedWebhookIds": [1],
            "id": identifier,
        }
    ).encode()


def test_jira_dynamic_webhook_jwt_expired_forged_or_missing(world: World) -> None:
    endpoint_id, _ = _jira_endpoint(world, "dynamic")
    client_secret = world.secrets["oauth_client_secret"]
    audience = world.ids["oauth_client_id"]  # decision 0511: tokens are for our app only
    now = int(time.time())
    body = _jira_body("dyn-1")

    def post(token: str | None, identifier: str) -> Any:
        headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": identifier}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return world.call("POST", f"/webhooks/jira/{endpoint_id}", content=body, headers=headers)

    expired = jwt.encode(
        {"iat": now - 7200, "exp": now - 3600, "aud": audience}, client_secret, algorithm="HS256"
    )
    assert post(expired, "dyn-expired").status_code == 401
    forged = jwt.encode(
        {"iat": now, "exp": now + 600, "aud": audience}, "not-the-secret", algorithm="HS256"
    )
    assert post(forged, "dyn-forged").status_code == 401
    unsigned = jwt.encode({"iat": now, "exp": now + 600}, None, algorithm="none")
    assert post(unsigned, "dyn-none").status_code == 401
    assert post(None, "dyn-missing").status_code == 401
    other_app = jwt.encode(
        {"iat": now, "exp": now + 600, "aud": "another-app"}, client_secret, algorithm="HS256"
    )
    assert post(other_app, "dyn-other-app").status_code == 401
    good = jwt.encode(
        {"iat": now, "exp": now + 600, "aud": audience}, client_secret, algorithm="HS256"
    )
    assert post(good, "dyn-good").status_code == 202
    assert post(good, "dyn-good").status_code == 200


def test_jira_admin_webhook_signature(world: World) -> None:
    endpoint_id, secret = _jira_endpoint(world, "admin")
    assert secret is not None
    body = _jira_body("adm-1")

    def post(signature: str | None, identifier: str) -> Any:
        headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": identifier}
        if signature is not None:
            headers["X-Hub-Signature"] = signature
        return world.call("POST", f"/webhooks/jira/{endpoint_id}", content=body, headers=headers)

    assert post(github_signature(body, secret + "x"), "adm-forged").status_code == 401
    assert post(github_signature(body[:-1], secret), "adm-other-body").status_code == 401
    assert post(None, "adm-missing").status_code == 401
    assert post(github_signature(body, secret)[:20], "adm-truncated").status_code == 401
    assert post(github_signature(body, secret), "adm-good").status_code == 202
    # Another endpoint's secret does not open this one.
    assert post(github_signature(body, world.secrets["webhook_secret"]), "adm-x").status_code == 401
