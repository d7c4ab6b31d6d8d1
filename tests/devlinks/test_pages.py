"""The GitHub pages over HTTP with a team: connections listed per owner, a team's connection
managed by any member and by nobody else, and triage rules saved on a connection (valid ones
only) with that connection's action log beside the dry-run."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from accounts.web_support import KEY, PASSWORD, accounts_app, make_settings, make_sim
from github.conftest import TOKEN, FakeGitHub
from jirabridge.service.github import GitHubService
from jirabridge.store.accounts import TeamRepository
from jirabridge.store.db import session_factory, write_transaction
from jirabridge.store.devlinks import DevLinkStore, StoredLink
from jirabridge.store.secrets import SecretBox
from jirabridge.web.routes import devlinks_pages, github_pages

EVENT = Path(__file__).parents[1] / "fixtures" / "webhooks" / "github" / "issues.opened.json"
RULES = """\
rules:
  - name: bugs to the core team
    match: {labels: [bug]}
    actions:
      add_labels: [needs-core]
"""
BAD_RULES = "rules:\n  - name: x\n    actions: {assign: {team: t}}\n"


@dataclass
class Site:
    app: FastAPI
    sessions: async_sessionmaker[AsyncSession]
    service: GitHubService
    team: str
    users: dict[str, str]
    own: str  # ann's own connection
    shared: str  # the team's connection
    foreign: str  # eve's own connection

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://testserver"
        )


@pytest.fixture
async def site(engine: AsyncEngine, tmp_path: Path) -> Site:
    sim = make_sim()
    sessions = session_factory(engine)
    app = accounts_app(make_settings(tmp_path, sim), sessions, sim)
    app.include_router(devlinks_pages.router)
    app.include_router(github_pages.router)
    accounts = app.state.accounts
    service = GitHubService(
        sessions,
        SecretBox([KEY]),
        accounts.clients,
        public_base="http://testserver",
        transport=FakeGitHub().transport(),
    )
    app.state.github = service
    users = {}
    for name in ("ann", "bob", "eve"):
        user = await accounts.accounts.create_user(email=f"{name}@x.io", password=PASSWORD)
        users[name] = user.id
    async with write_transaction(sessions) as session:
        teams = TeamRepository(session)
        team = (await teams.create("platform")).id
        await teams.add_member(team, users["ann"])
        await teams.add_member(team, users["bob"])

    async def add(owner: str, name: str) -> str:
        created = await service.create(owner, name=name, kind="token", secret=TOKEN)
        return created.connection.id

    return Site(
        app,
        sessions,
        service,
        f"team:{team}",
        users,
        await add(f"user:{users['ann']}", "Ann solo"),
        await add(f"team:{team}", "Platform hooks"),
        await add(f"user:{users['eve']}", "Eve solo"),
    )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def log_in(client: httpx.AsyncClient, name: str) -> str:
    page = await client.get("/login")
    answer = await client.post(
        "/login",
        data={"email": f"{name}@x.io", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 303, answer.text
    return csrf_of((await client.get("/github/connections")).text)


def group(html: str, owner: str) -> str:
    """The rows of one owner's group on the connections page."""
    start = html.index(f'<tbody data-owner="{owner}">')
    return html[start : html.index("</tbody>", start)]


@pytest.fixture
async def bob(site: Site) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with site.client() as client:
        yield client, await log_in(client, "bob")


@pytest.fixture
async def eve(site: Site) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with site.client() as client:
        yield client, await log_in(client, "eve")


async def test_members_see_their_teams_connections_and_manage_them(
    site: Site, bob: tuple[httpx.AsyncClient, str]
) -> None:
    client, csrf = bob
    page = (await client.get("/github/connections")).text
    assert "Platform hooks" in group(page, site.team)
    assert "Team platform" in group(page, site.team)
    assert "No GitHub connections yet." in group(page, f"user:{site.users['bob']}")
    assert "Ann solo" not in page  # a teammate's own connection is hers alone
    assert "Eve solo" not in page
    assert f'<option value="{site.team}">Team platform</option>' in page

    added = await client.post(
        "/github/connections",
        data={"csrf_token": csrf, "owner": site.team, "name": "Bob for the team", "token": TOKEN},
    )
    assert added.status_code == 200, added.text
    assert "Bob for the team" in group(added.text, site.team)
    team_store = site.service.store(site.team)
    new_id = next(c.id for c in await team_store.list() if c.name == "Bob for the team")

    tested = await client.post(f"/github/connections/{site.shared}/test", data={"csrf_token": csrf})
    assert tested.status_code == 303
    page = (await client.get("/github/connections")).text
    assert "GitHub accepted the credentials" in page

    removed = await client.post(f"/github/connections/{new_id}/delete", data={"csrf_token": csrf})
    assert removed.status_code == 303
    assert [c.id for c in await team_store.list()] == [site.shared]


async def test_a_non_member_gets_404_for_a_teams_connection_and_changes_nothing(
    site: Site, eve: tuple[httpx.AsyncClient, str]
) -> None:
    client, csrf = eve
    page = (await client.get("/github/connections")).text
    assert "Platform hooks" not in page
    assert "Eve solo" in page
    for action in ("test", "delete", "repos", "webhooks", "backfill"):
        answer = await client.post(
            f"/github/connections/{site.shared}/{action}", data={"csrf_token": csrf}
        )
        assert answer.status_code == 404, (action, answer.text)
    assert (await client.get(f"/github/triage?connection={site.shared}")).status_code == 404
    saved = await client.post(
        f"/github/triage/{site.shared}/rules", data={"csrf_token": csrf, "rules": RULES}
    )
    assert saved.status_code == 404
    added = await client.post(
        "/github/connections",
        data={"csrf_token": csrf, "owner": site.team, "name": "sneaky", "token": TOKEN},
    )
    assert added.status_code == 404
    connections = await site.service.store(site.team).list()
    assert [(c.name, c.triage_rules) for c in connections] == [("Platform hooks", None)]


async def test_valid_rules_are_saved_on_the_connection_with_its_log_and_dry_run(
    site: Site, bob: tuple[httpx.AsyncClient, str]
) -> None:
    client, csrf = bob
    store = DevLinkStore(site.sessions, site.team)
    await store.log_triage(
        "github",
        [("octo/hello#1", "mine", "add_labels", "needs-core", "done", "")],
        connection_id=site.shared,
    )
    await store.log_triage(
        "github", [("octo/web#2", "not mine", "assign", "hubot", "done", "")], connection_id="x"
    )

    picker = (await client.get("/github/triage")).text
    assert f'<option value="{site.shared}">Platform hooks</option>' in picker
    assert site.own not in picker  # ann's own connection is not bob's to edit
    editor = (await client.get(f"/github/triage?connection={site.shared}")).text
    assert "none saved yet" in editor
    assert "octo/hello#1" in editor
    assert "octo/web#2" not in editor  # another connection's entry

    saved = await client.post(
        f"/github/triage/{site.shared}/rules", data={"csrf_token": csrf, "rules": RULES}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/github/triage?connection={site.shared}"
    connection = await site.service.connection(site.team, site.shared)
    assert connection.triage_rules == RULES
    editor = (await client.get(saved.headers["location"])).text
    assert "Saved the triage rules of Platform hooks." in editor
    assert "bugs to the core team" in editor
    assert "none saved yet" not in editor

    dry = await client.post(
        "/github/triage",
        data={
            "csrf_token": csrf,
            "connection_id": site.shared,
            "rules": RULES,
            "event": EVENT.read_text(),
            "label": "bug",
        },
    )
    assert dry.status_code == 200, dry.text
    assert "-&gt; add_labels needs-core" in dry.text
    assert "octo/hello#1" in dry.text
    assert (await site.service.connection(site.team, site.shared)).triage_rules == RULES


async def test_invalid_rules_are_refused_by_line_and_nothing_is_stored(
    site: Site, bob: tuple[httpx.AsyncClient, str]
) -> None:
    client, csrf = bob
    await site.service.update(site.team, site.shared, triage_rules=RULES)
    refused = await client.post(
        f"/github/triage/{site.shared}/rules",
        data={"csrf_token": csrf, "rules": BAD_RULES, "event": "{}"},
    )
    assert refused.status_code == 422
    assert "line 3: team &#39;t&#39; is not defined" in refused.text
    assert "{assign: {team: t}}" in refused.text  # the editor keeps what was typed
    assert (await site.service.connection(site.team, site.shared)).triage_rules == RULES
    # Without the form's token nothing is looked at, let alone saved.
    forged = await client.post(f"/github/triage/{site.shared}/rules", data={"rules": ""})
    assert forged.status_code == 403
    assert (await site.service.connection(site.team, site.shared)).triage_rules == RULES


async def test_the_overview_shows_a_teams_links_to_its_members_only(
    site: Site, bob: tuple[httpx.AsyncClient, str], eve: tuple[httpx.AsyncClient, str]
) -> None:
    link = StoredLink("DEMO-7", "octo/team-repo", "pull_request", "42", ("title",), None, "t", None)
    await DevLinkStore(site.sessions, site.team).save_link(link)
    client, _ = bob
    own = (await client.get("/github")).text
    assert "octo/team-repo" not in own  # bob's own view: the team's links are not his
    assert "Team platform" in own  # but the picker offers the team
    team = await client.get("/github", params={"owner": site.team})
    assert team.status_code == 200
    assert "octo/team-repo" in team.text
    outsider, _ = eve
    assert (await outsider.get("/github", params={"owner": site.team})).status_code == 404
