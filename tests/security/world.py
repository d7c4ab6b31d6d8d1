"""A whole Jirabridge app after the demo's seeding, with an intruder, for the security tests.

The demo's own seeding (``seed_demo``) fills a temporary SQLite database for the demo admin
(the owner of every object here); the simulator runs on loopback. The app is the real one
(``create_app``, lifespan and all) driven in-process through Starlette's TestClient.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.testclient import TestClient

from jirabridge.cli.accounts_common import accounts_context, user_by_email
from jirabridge.cli.demo import seed_demo
from jirabridge.cli.demo_accounts import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD
from jirabridge.service.settings import Settings, load_settings
from jirabridge.sim.app import SimConfig, create_sim_app
from jirabridge.sim.edges import default_oauth_client
from jirabridge.sim.server import serve_in_thread
from jirabridge.store.account_models import UserRole
from jirabridge.store.secrets import generate_key
from jirabridge.web.app import create_app

MALLORY_EMAIL = "mallory@example.com"
MALLORY_PASSWORD = "mallory-password-long-enough"
SECRET_KEY = "security-suite-secret-key-0123456789abcdef"


@dataclass
class Login:
    """One way of calling the app as one user."""

    email: str
    api_key: str
    read_key: str
    cookies: dict[str, str]
    csrf: str
    user_id: str = ""
    key_id: str = ""


@dataclass
class World:
    """The running app and everything the tests need to know about it."""

    app: FastAPI
    client: TestClient
    settings: Settings
    sim: Any
    sim_url: str
    admin: Login
    mallory: Login
    ids: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        who: Login | None = None,
        *,
        session: bool = False,
        csrf: bool = True,
        **kwargs: Any,
    ) -> Any:
        """One request as ``who`` (API key, or the session with ``session``), or anonymous."""
        headers = dict(kwargs.pop("headers", {}) or {})
        cookies: dict[str, str] = {}
        if who is not None and session:
            cookies = who.cookies
            if csrf:
                headers["X-CSRF-Token"] = who.csrf
        elif who is not None:
            headers["Authorization"] = f"Bearer {who.api_key}"
        self.client.cookies.clear()
        for name, value in cookies.items():
            self.client.cookies.set(name, value)
        try:
            return self.client.request(
                method, path, headers=headers, follow_redirects=False, **kwargs
            )
        finally:
            self.client.cookies.clear()


def submit_login(
    client: TestClient, email: str, password: str, *, next_path: str | None = None
) -> Any:
    """Fetch the login form and post it as a browser would; the cookie jar is left empty."""
    client.cookies.clear()
    form = client.get("/login", params={"next": next_path} if next_path else None)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text[:500]
    data = {"email": email, "password": password, "csrf_token": token.group(1)}
    if next_path is not None:
        data["next"] = next_path
    try:
        return client.post("/login", data=data, follow_redirects=False)
    finally:
        client.cookies.clear()


def _login(client: TestClient, email: str, password: str) -> tuple[dict[str, str], str]:
    answer = submit_login(client, email, password)
    assert answer.status_code == 303, answer.text[:500]
    cookies = {"jb_session": answer.cookies["jb_session"]}
    client.cookies.clear()
    client.cookies.set("jb_session", cookies["jb_session"])
    page = client.get("/account")
    csrf = re.search(r'"X-CSRF-Token"\s*:\s*"([^"]+)"', page.text)
    assert csrf, page.text[:800]
    client.cookies.clear()
    return cookies, csrf.group(1)


async def _seed(settings: Settings, sim_url: str, sim: Any) -> dict[str, str]:
    login = (await seed_demo(settings, sim_url=sim_url, sim=sim)).login
    assert login.connection_ok, login.message
    out: dict[str, str] = {"connection_id": login.connection_id}
    async with accounts_context(settings) as ctx:
        admin = await user_by_email(ctx, DEMO_ADMIN_EMAIL)
        mallory = await ctx.accounts.create_user(
            email=MALLORY_EMAIL, password=MALLORY_PASSWORD, role=UserRole.MEMBER
        )
        for who, user, scopes in (("admin", admin, ["admin"]), ("mallory", mallory, ["write"])):
            created = await ctx.accounts.create_api_key(user, name="suite", scopes=scopes)
            read = await ctx.accounts.create_api_key(user, name="read", scopes=["read"])
            out[f"{who}_key"] = created.plaintext
            out[f"{who}_key_id"] = created.row.id
            out[f"{who}_read_key"] = read.plaintext
            out[f"{who}_user_id"] = user.id
    return out


def github_signature(body: bytes, secret: str) -> str:
    """``X-Hub-Signature-256`` of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@contextmanager
def running_world(data_dir: Path, **settings_extra: Any) -> Iterator[World]:
    """Seed like the demo, start the app, log both users in and create one of each object."""
    sim_app = create_sim_app(SimConfig(state_file=data_dir / "sim-state.json"))
    sim = sim_app.state.sim
    oauth_app = default_oauth_client(sim.config.seed)
    with serve_in_thread(sim_app) as sim_url:
        settings = load_settings(
            data_dir=data_dir,
            environment="test",
            allow_private_jira_urls=True,
            base_url="http://testserver",
            secret_key=SECRET_KEY,
            encryption_keys=generate_key(),
            oauth_client_id=oauth_app.client_id,
            oauth_client_secret=oauth_app.client_secret,
            oauth_authorize_url=f"{sim_url}/authorize",
            oauth_token_url=f"{sim_url}/oauth/token",
            oauth_api_base=sim_url,
            run_workers=False,
            **settings_extra,
        )
        seeded = asyncio.run(_seed(settings, sim_url, sim))
        app = create_app(settings, workers=False)
        with TestClient(app, base_url="http://testserver") as client:
            admin_cookies, admin_csrf = _login(client, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD)
            mallory_cookies, mallory_csrf = _login(client, MALLORY_EMAIL, MALLORY_PASSWORD)
            world = World(
                app=app,
                client=client,
                settings=settings,
                sim=sim,
                sim_url=sim_url,
                admin=Login(
                    DEMO_ADMIN_EMAIL,
                    seeded["admin_key"],
                    seeded["admin_read_key"],
                    admin_cookies,
                    admin_csrf,
                    seeded["admin_user_id"],
                    seeded["admin_key_id"],
                ),
                mallory=Login(
                    MALLORY_EMAIL,
                    seeded["mallory_key"],
                    seeded["mallory_read_key"],
                    mallory_cookies,
                    mallory_csrf,
                    seeded["mallory_user_id"],
                    seeded["mallory_key_id"],
                ),
                ids={
                    "connection_id": seeded["connection_id"],
                    "key_id": seeded["admin_key_id"],
                    "oauth_client_id": oauth_app.client_id,
                },
                secrets={
                    "jira_api_token": sim.admin_token,
                    "oauth_client_secret": oauth_app.client_secret,
                    "admin_password": DEMO_ADMIN_PASSWORD,
                    "mallory_password": MALLORY_PASSWORD,
                    "admin_api_key": seeded["admin_key"],
                    "mallory_api_key": seeded["mallory_key"],
                    "secret_key": SECRET_KEY,
                },
            )
            _create_objects(world)
            yield world


def _create_objects(world: World) -> None:
    """One of each object the admin owns, so every path parameter names a real one."""
    admin = world.admin
    records = world.call("GET", "/api/time-records", admin).json()
    items = records["items"] if isinstance(records, dict) else records
    world.ids["record_id"] = items[0]["id"]
    endpoint = world.call(
        "POST", "/api/webhooks/endpoints", admin, json={"name": "gh", "source": "github"}
    )
    assert endpoint.status_code == 201, endpoint.text
    created = endpoint.json()
    world.ids["endpoint_id"] = created["endpoint"]["id"]
    world.secrets["webhook_secret"] = created["secret"]
    body = json.dumps({"action": "opened", "issue": {"number": 1, "title": "x"}}).encode()
    delivered = world.call(
        "POST",
        f"/webhooks/github/{created['endpoint']['id']}",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": "suite-1",
            "X-Hub-Signature-256": github_signature(body, created["secret"]),
        },
    )
    assert delivered.status_code == 202, delivered.text
    deliveries = world.call("GET", "/api/webhooks/deliveries", admin).json()
    listed = deliveries["items"] if isinstance(deliveries, dict) else deliveries
    world.ids["delivery_pk"] = str(listed[0]["pk"] if "pk" in listed[0] else listed[0]["id"])
    boards = world.call(
        "GET", f"/api/reports/connections/{world.ids['connection_id']}/boards", admin
    )
    assert boards.status_code == 200, boards.text
    board_list = boards.json()
    board_list = board_list["boards"] if isinstance(board_list, dict) else board_list
    world.ids["board_id"] = str(board_list[0]["id"])
    github = world.call(
        "POST",
        "/api/github/connections",
        admin,
        json={"name": "suite", "token": "ghp_suite_placeholder", "repos": ["octo/hello"]},
    )
    assert github.status_code == 201, github.text
    world.ids["github_connection_id"] = github.json()["connection"]["id"]
    world.secrets["github_token"] = "ghp_suite_placeholder"
    links = world.call("GET", "/api/devlinks/links", admin).json()
    world.ids["sha"] = next(link["ref"] for link in links if link["kind"] == "commit")
    profile = world.call(
        "POST",
        "/api/stories/profiles",
        admin,
        json={
            "name": "suite",
            "connection_id": world.ids["connection_id"],
            "settings": {"project": "DEMO"},
        },
    )
    assert profile.status_code == 201, profile.text
    world.ids["profile_id"] = profile.json()["id"]
    exports = world.call("GET", "/api/stories/exports", admin).json()
    world.ids["export_id"] = exports["items"][0]["id"]  # the demo's export
    sync = world.call("POST", f"/api/jira/sync/record/{world.ids['record_id']}", admin)
    if sync.status_code < 300 and "run_id" in sync.json():
        world.ids["run_id"] = sync.json()["run_id"]
