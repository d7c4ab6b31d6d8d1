"""SSRF: a user-supplied Jira URL never makes the server call a private, loopback, link-local
or metadata address — checked where connections are created, tested and changed, with a
resolver stub (no DNS) and a transport that records any request that slips through.

The address rules themselves are unit-tested in tests/accounts/test_url_safety.py; this is
the wiring: every entry point that takes a URL runs them, and nothing is stored or sent.
Also the login page's ``next``: only local paths (no open redirect).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from jirabridge.errors import NotFoundError, ValidationError
from jirabridge.service.account_wiring import build_accounts_context
from jirabridge.service.connections import ConnectionChanges, ConnectionInput
from jirabridge.service.passwords import PasswordHasher
from jirabridge.service.settings import load_settings
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow
from jirabridge.store.db import session_factory
from jirabridge.store.secrets import SecretBox, generate_key
from security.world import MALLORY_PASSWORD, World, submit_login

DNS = {
    "jira.example.com": ["93.184.216.34"],
    "metadata.example.com": ["169.254.169.254"],
    "rebind.example.com": ["93.184.216.34", "10.0.0.5"],
    "internal.example.com": ["192.168.1.10"],
    "v6.example.com": ["fd00::1"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
}


async def resolve(host: str, port: int) -> Sequence[str]:
    return DNS.get(host, ["93.184.216.34"])


HOSTILE = [
    "https://127.0.0.1/",
    "https://localhost.localdomain@127.0.0.1/",
    "https://[::1]/",
    "https://169.254.169.254/latest/meta-data/",
    "https://metadata.example.com/",
    "https://rebind.example.com/",
    "https://internal.example.com/",
    "https://v6.example.com/",
    "https://mapped.example.com/",
    "https://10.1.2.3:8443/jira",
    "https://100.64.0.1/",
    "https://0.0.0.0/",
    "http://jira.example.com/",
    "file:///etc/passwd",
    "gopher://jira.example.com/",
]


@pytest.mark.parametrize("url", HOSTILE)
async def test_hostile_urls_refused_everywhere(
    url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    sessions = session_factory(engine)
    context = build_accounts_context(
        load_settings(data_dir=tmp_path, environment="test", allow_private_jira_urls=False),
        sessions,
        box=SecretBox([generate_key()]),
        transport=httpx.MockTransport(record),
        resolver=resolve,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024),
    )
    user = await context.accounts.create_user(email="ssrf@example.com", password="x" * 12)
    entered = ConnectionInput(
        name="x", kind=ConnectionKind.CLOUD_TOKEN, base_url=url, email="a@b.c", secret="tok"
    )
    with pytest.raises(ValidationError):
        await context.connections.test_input(entered)
    with pytest.raises(ValidationError):
        await context.connections.create(user.id, entered, force=True)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(JiraConnectionRow)) == 0
    # A connection to a public host may not be moved to a private one afterwards.
    row, _ = await context.connections.create(
        user.id,
        ConnectionInput(
            name="ok",
            kind=ConnectionKind.CLOUD_TOKEN,
            base_url="https://jira.example.com",
            email="a@b.c",
            secret="tok",
        ),
        test=False,
    )
    with pytest.raises(ValidationError):
        await context.connections.update(user.id, row.id, ConnectionChanges(base_url=url))
    assert (await context.connections.get(user.id, row.id)).base_url.startswith(
        "https://jira.example.com"
    )
    assert sent == [], [str(r.url) for r in sent]
    with pytest.raises(NotFoundError):
        await context.connections.get("someone-else", row.id)


@pytest.mark.slow
@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_login_next_is_never_an_open_redirect(world: World, target: str) -> None:
    world.client.cookies.clear()
    form = world.client.get("/login", params={"next": target})
    world.client.cookies.clear()
    assert "evil.example" not in form.text
    answer = submit_login(world.client, world.mallory.email, MALLORY_PASSWORD, next_path=target)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/")
    assert not answer.headers["location"].startswith("//")
    assert "evil" not in answer.headers["location"]
