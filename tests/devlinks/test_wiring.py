"""GitHub connections over REST, webhook intake wired to links and Smart Commits, and backfill
as a durable workflow: the service end to end, with the GitHub double and the simulator."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from github.conftest import TOKEN, FakeGitHub
from jirabridge.jobs.engine import JobEngine, JobsConfig
from jirabridge.service.github import GitHubService
from jirabridge.service.webhook_intake import create_endpoint
from jirabridge.service.webhook_wiring import WebhooksContext, build_webhooks_context
from jirabridge.store.db import session_factory
from jirabridge.store.devlinks import DevLinkStore
from jirabridge.store.webhook_models import EndpointKind, WebhookSource
from jirabridge.store.webhooks import Owner, list_deliveries, replay_deliveries
from jirabridge.store.worklog_models import TimeRecordRow
from jirabridge.sync.devlinks import jobs as devlink_jobs
from jirabridge.web.routes import devlinks_api, github_api, webhooks
from worklogs.api_support import ApiWorld, add_user, build_world
from worklogs.conftest import open_issue_keys

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks" / "github"
SECRET = "ghp_a_token_that_must_never_come_back_0123"
WAIT_SEC = 60


@pytest.fixture
async def jobs(jobs_database_url: str) -> AsyncIterator[JobEngine]:
    engine = JobEngine(
        JobsConfig(
            system_database_url=jobs_database_url,
            application_version="devlinks-wiring-test",
            executor_id="devlinks-wiring-test",
            polling_interval_sec=0.05,
            log_level="WARNING",
        )
    )
    await engine.launch()
    try:
        yield engine
    finally:
        await engine.shutdown()


@dataclass
class Wired:
    world: ApiWorld
    fake: FakeGitHub
    service: GitHubService
    hooks: WebhooksContext
    jobs: JobEngine

    @property
    def owner(self) -> str:
        return f"user:{self.world.user_id}"

    def http(self, key: str | None = None) -> httpx.AsyncClient:
        return self.world.client(key)

    async def author_email(self) -> str:
        async with self.service.jira(self.world.connection_id) as jira:
            users = await jira.search_users("@example.com")
        return next(
            u.email_address
            for u in users
            if u.email_address and u.email_address != "admin@example.com"
        )


def app_installation_transport(fake: FakeGitHub) -> httpx.MockTransport:
    """The double, plus GitHub's installation-token exchange (answered with the double's token)."""
    minted: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/access_tokens"):
            minted.append(request.headers["authorization"])
            return httpx.Response(201, json={"token": TOKEN, "expires_at": "2099-01-01T00:00:00Z"})
        return fake.handler(request)

    transport = httpx.MockTransport(handler)
    transport.minted = minted  # type: ignore[attr-defined]
    return transport


@pytest.fixture
async def wired(engine: AsyncEngine, tmp_path: Path, jobs: JobEngine, sim_app: Starlette) -> Wired:
    sessions = session_factory(engine)
    world = await build_world(sessions, tmp_path, jobs=jobs, sim=sim_app)
    app = world.app
    app.include_router(github_api.router)
    app.include_router(devlinks_api.router)
    app.include_router(webhooks.intake_router)
    fake = FakeGitHub()
    box = world.context.secrets.box
    service = GitHubService(
        sessions,
        box,
        world.context.clients,
        public_base="http://testserver",
        transport=app_installation_transport(fake),
        jobs=jobs,
    )
    app.state.github = service
    devlink_jobs.configure(service, jobs=jobs)
    hooks = build_webhooks_context(app.state.settings, sessions, box=box)
    app.state.webhooks = hooks
    return Wired(world, fake, service, hooks, jobs)


def signed(body: bytes, secret: str, event: str, delivery: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={digest}",
    }


async def finish_deliveries(w: Wired) -> list[dict[str, Any]]:
    """Run the webhook processor, then wait for every delivery workflow it enqueued."""
    await w.hooks.worker.drain()
    results = []
    async with asyncio.timeout(WAIT_SEC):
        for status in await w.jobs.list_jobs(id_prefix="devlinks-delivery", limit=1000):
            results.append(await (await w.jobs.handle(status.workflow_id)).result())
    return results


async def test_connections_crud_test_repos_and_webhooks_over_rest(wired: Wired) -> None:
    async with wired.http() as api:
        created = await api.post(
            "/api/github/connections",
            json={
                "name": "Octo",
                "token": SECRET,
                "repos": ["octo/hello"],
                "project_keys": ["demo"],
                "jira_connection_id": wired.world.connection_id,
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert SECRET not in created.text
        connection_id = body["connection"]["id"]
        endpoint = body["connection"]["webhook_endpoint_id"]
        assert body["webhook_url"] == f"http://testserver/webhooks/github/{endpoint}"
        assert len(body["webhook_secret"]) >= 32

        listed = await api.get("/api/github/connections")
        assert [c["id"] for c in listed.json()] == [connection_id]
        assert SECRET not in listed.text
        assert body["webhook_secret"] not in listed.text

        refused = await api.post(f"/api/github/connections/{connection_id}/test")
        assert refused.json() == {
            "ok": False,
            "message": "GitHub refused the credentials (401)",
            "rate_remaining": None,
        }
        wired.fake.token = SECRET
        tested = await api.post(f"/api/github/connections/{connection_id}/test")
        assert tested.json()["ok"] is True, tested.text

        bad = await api.put(
            f"/api/github/connections/{connection_id}/repositories", json={"repos": ["no slash"]}
        )
        assert bad.status_code == 422
        assert "owner/name" in bad.text
        picked = await api.put(
            f"/api/github/connections/{connection_id}/repositories",
            json={"repos": ["octo/hello", "octo/private"]},
        )
        assert picked.json()["repos"] == ["octo/hello", "octo/private"]

        hooks = (await api.post(f"/api/github/connections/{connection_id}/webhooks")).json()
        assert [(h["repo"], h["status"]) for h in hooks] == [
            ("octo/hello", "created"),
            ("octo/private", "manual"),
        ]
        (hook,) = wired.fake.hooks.values()
        assert hook["config"]["url"] == body["webhook_url"]
        assert body["webhook_secret"] in hooks[1]["instructions"]

    # Someone else sees nothing of it, and cannot borrow our Jira connection.
    _, other_key = await add_user(wired.world.context, "mallory@example.com")
    async with wired.http(other_key) as api:
        path = f"/api/github/connections/{connection_id}"
        assert (await api.get(path)).status_code == 404
        assert (await api.post(f"{path}/test")).status_code == 404
        assert (await api.delete(path)).status_code == 404
        assert (await api.get("/api/github/connections")).json() == []
        foreign = await api.get(
            "/api/github/connections", params={"owner": f"user:{wired.world.user_id}"}
        )
        assert foreign.status_code == 404
        borrowed = await api.post(
            "/api/github/connections",
            json={
                "name": "x",
                "token": "t",
                "jira_connection_id": wired.world.connection_id,
            },
        )
        assert borrowed.status_code == 404

    async with wired.http() as api:
        removed = await api.delete(f"/api/github/connections/{connection_id}")
        assert removed.status_code == 200
        assert (await api.get("/api/github/connections")).json() == []


async def test_github_app_installation_connection_tests_with_an_installation_token(
    wired: Wired,
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    async with wired.http() as api:
        missing = await api.post(
            "/api/github/connections", json={"name": "App", "kind": "app", "private_key": pem}
        )
        assert missing.status_code == 422
        created = await api.post(
            "/api/github/connections",
            json={
                "name": "App",
                "kind": "app",
                "private_key": pem,
                "app_id": "1234",
                "installation_id": "42",
            },
        )
        assert created.status_code == 201, created.text
        assert "PRIVATE KEY" not in created.text
        connection_id = created.json()["connection"]["id"]
        tested = (await api.post(f"/api/github/connections/{connection_id}/test")).json()
    assert tested["ok"] is True
    minted = wired.service._transport.minted  # type: ignore[union-attr]
    assert len(minted) == 1
    assert minted[0].startswith("Bearer ey")  # the App's JWT, exchanged for a token


async def test_signed_delivery_links_and_applies_smart_commits_once_even_when_replayed(
    wired: Wired,
) -> None:
    created = await wired.service.create(
        wired.owner,
        name="Octo",
        kind="token",
        secret=TOKEN,
        repos=["Codertocat/Hello-World"],
        project_keys=["DEMO"],
        jira_connection_id=wired.world.connection_id,
    )
    email = await wired.author_email()
    sha = "f" * 40
    # The worklog engine refuses closed issues, as it does for typed-in records.
    key = open_issue_keys(wired.world.sim, 1)[0]
    push = json.loads((FIXTURES / "push.json").read_text())
    push["commits"] = [
        {
            "id": sha,
            "message": f"{key} #comment reviewed over a webhook #time 45m",
            "timestamp": "2026-11-20T09:00:00Z",
            "url": f"https://github.com/Codertocat/Hello-World/commit/{sha}",
            "author": {"name": "Grace", "email": email},
        }
    ]
    pull = json.loads((FIXTURES / "pull_request.opened.json").read_text())
    pull["pull_request"]["title"] = "DEMO-1 wire the webhooks"
    url = f"/webhooks/github/{created.connection.webhook_endpoint_id}"
    push_body = json.dumps(push).encode()
    pull_body = json.dumps(pull).encode()

    async with wired.http() as api:
        sent = await api.post(
            url, content=push_body, headers=signed(push_body, created.webhook_secret, "push", "p1")
        )
        assert sent.status_code == 202, sent.text
        sent = await api.post(
            url,
            content=pull_body,
            headers=signed(pull_body, created.webhook_secret, "pull_request", "r1"),
        )
        assert sent.status_code == 202, sent.text
        forged = await api.post(
            url, content=push_body, headers=signed(push_body, "wrong", "push", "p2")
        )
        assert forged.status_code == 401

    async with wired.service.jira(wired.world.connection_id) as jira:
        worklogs_before = [w.id async for w in jira.worklogs(key)]
    results = await finish_deliveries(wired)
    assert sorted(r["event"] for r in results) == ["pull_request", "push"]

    # The processor is asked again (an operator replays the deliveries): nothing doubles.
    async with wired.hooks.sessions() as session:
        replayed = 0
        for row in await list_deliveries(session, Owner(user_id=wired.world.user_id)):
            replayed += await replay_deliveries(
                session,
                Owner(user_id=wired.world.user_id),
                now=datetime.now(UTC),
                delivery_pk=row.id,
            )
        await session.commit()
    assert replayed == 2
    again = await finish_deliveries(wired)
    assert len(again) == 4  # two deliveries, each processed twice

    async with wired.service.jira(wired.world.connection_id) as jira:
        links = await jira.remote_links("DEMO-1")
        assert len(links) == 1
        assert "DEMO-1 wire the webhooks" in json.dumps(links[0].object)
        comments = [json.dumps(c.body) for c in await jira.comments(key)]
        assert sum("reviewed over a webhook" in t for t in comments) == 1
        added = [w async for w in jira.worklogs(key) if w.id not in worklogs_before]
        assert [w.time_spent_seconds for w in added] == [2700]

    # #time went through the worklog engine: one time record for the sha, synced once.
    async with wired.hooks.sessions() as session:
        records = list(
            await session.scalars(
                select(TimeRecordRow).where(TimeRecordRow.external_link.like(f"%{sha}"))
            )
        )
    assert [(r.issue_key, r.duration_seconds, r.worklog_id) for r in records] == [
        (key, 2700, str(added[0].id))
    ]
    assert records[0].owner_user_id == wired.world.user_id

    async with wired.http() as api:
        per_commit = (await api.get(f"/api/devlinks/commits/{sha}")).json()
        assert {(r["kind"], r["status"]) for r in per_commit} == {
            ("smart_comment", "done"),
            ("smart_worklog", "done"),
        }
        (logged,) = [r for r in per_commit if r["kind"] == "smart_worklog"]
        assert logged["detail"] == f"time record {records[0].id}, worklog {added[0].id}"
        per_issue = (await api.get("/api/devlinks/links", params={"issue": "DEMO-1"})).json()
        assert ("pull_request", "Codertocat/Hello-World", "2") in [
            (x["kind"], x["repo"], x["ref"]) for x in per_issue
        ]


async def test_backfill_over_rest_reports_progress_skips_a_failing_repo(wired: Wired) -> None:
    email = await wired.author_email()
    wired.fake.add_pull("DEMO-1 first", "feature/DEMO-1", ["DEMO-1 #comment history #in-progress"])
    wired.fake.add_pull("Second", "DEMO-2-fix", ["DEMO-2 #time 2h replayed"])
    for commits in wired.fake.pull_commits.values():
        for c in commits:
            c["commit"]["author"]["email"] = email
    created = await wired.service.create(
        wired.owner,
        name="Octo",
        kind="token",
        secret=TOKEN,
        repos=["octo/missing", "octo/hello"],
        project_keys=["DEMO"],
        jira_connection_id=wired.world.connection_id,
    )
    async with wired.service.jira(wired.world.connection_id) as jira:
        status_before = (await jira.get_issue("DEMO-1")).fields["status"]
    async with wired.http() as api:
        refused = await api.post(
            "/api/github/backfill", json={"connection_id": created.connection.id, "months": 0}
        )
        assert refused.status_code == 422
        started = await api.post(
            "/api/github/backfill", json={"connection_id": created.connection.id, "months": 3}
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        events: list[tuple[str, dict[str, Any]]] = []
        async with asyncio.timeout(WAIT_SEC):
            async with api.stream("GET", f"/api/github/backfill/{run_id}/events") as stream:
                name = ""
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        name = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        events.append((name, json.loads(line.removeprefix("data: "))))
        assert events[-1][0] == "done"
        final = (await api.get(f"/api/github/backfill/{run_id}")).json()
    assert final["status"] == "finished"
    by_repo = {r["repo"]: r for r in final["repos"]}
    assert by_repo["octo/missing"]["error"]
    assert (by_repo["octo/hello"]["processed"], by_repo["octo/hello"]["done"]) == (2, True)
    assert final["eta_seconds"] == 0.0

    _, other_key = await add_user(wired.world.context, "eve@example.com")
    async with wired.http(other_key) as api:
        assert (await api.get(f"/api/github/backfill/{run_id}")).status_code == 404

    async with wired.service.jira(wired.world.connection_id) as jira:
        assert len(await jira.remote_links("DEMO-1")) == 1
        assert (await jira.get_issue("DEMO-1")).fields["status"] == status_before


RULES = """\
rules:
  - name: every bug
    match: {keywords: [crash]}
    actions:
      add_labels: [triaged]
"""


async def test_new_bugs_from_github_and_jira_are_triaged_through_the_processor(
    wired: Wired,
) -> None:
    created = await wired.service.create(
        wired.owner,
        name="Octo",
        kind="token",
        secret=TOKEN,
        repos=["octo/hello"],
        project_keys=["DEMO"],
        triage_label="bug",
        triage_rules=RULES,
        jira_connection_id=wired.world.connection_id,
    )
    issue = wired.fake.add_issue("It crashes on start", labels=[wired.fake._label("bug")])
    gh_event = json.loads((FIXTURES / "issues.opened.json").read_text())
    gh_event["issue"] = issue
    gh_event["repository"]["full_name"] = "octo/hello"
    gh_body = json.dumps(gh_event).encode()

    key = open_issue_keys(wired.world.sim, 2)[1]
    async with wired.hooks.sessions() as session:
        endpoint, jira_secret = await create_endpoint(
            session,
            wired.hooks.box,
            owner_user_id=wired.world.user_id,
            name="jira",
            source=WebhookSource.JIRA,
            kind=EndpointKind.ADMIN,
            connection_id=wired.world.connection_id,
        )
        await session.commit()
    jira_event = {
        "webhookEvent": "jira:issue_created",
        "timestamp": 1_790_000_000_000,
        "issue": {
            "id": "1",
            "key": key,
            "self": f"http://sim.test/rest/api/3/issue/{key}",
            "fields": {
                "issuetype": {"name": "Bug"},
                "summary": "Export crash",
                "description": "It crashes when exporting.",
                "labels": [],
            },
        },
    }
    jira_body = json.dumps(jira_event).encode()
    jira_digest = hmac.new(jira_secret.encode(), jira_body, hashlib.sha256).hexdigest()
    async with wired.http() as api:
        sent = await api.post(
            f"/webhooks/github/{created.connection.webhook_endpoint_id}",
            content=gh_body,
            headers=signed(gh_body, created.webhook_secret, "issues", "i1"),
        )
        assert sent.status_code == 202, sent.text
        sent = await api.post(
            f"/webhooks/jira/{endpoint.id}",
            content=jira_body,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature": f"sha256={jira_digest}",
                "X-Atlassian-Webhook-Identifier": "j1",
            },
        )
        assert sent.status_code == 202, sent.text
    results = await finish_deliveries(wired)
    assert sorted(r["bug"] for r in results) == sorted([f"octo/hello#{issue['number']}", key])

    assert "triaged" in {lb["name"] for lb in wired.fake.issues[issue["number"]]["labels"]}
    async with wired.service.jira(wired.world.connection_id) as jira:
        assert "triaged" in (await jira.get_issue(key)).fields["labels"]
    async with wired.http() as api:
        log = (await api.get("/api/triage/log")).json()
    assert {(e["bug_source"], e["kind"], e["status"]) for e in log} == {
        ("github", "add_labels", "done"),
        ("jira", "add_labels", "done"),
    }
    # Each entry names the connection whose rules acted (the rules page shows it per connection).
    store = DevLinkStore(wired.service.sessions, wired.owner)
    by_connection = await store.triage_log(connection_id=created.connection.id)
    assert sorted(e.bug_source for e in by_connection) == ["github", "jira"]
    assert await store.triage_log(connection_id="another-connection") == []
