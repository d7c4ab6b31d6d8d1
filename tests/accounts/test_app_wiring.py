"""The accounts routes inside the real app factory: the services are built lazily from the
runtime (a dev key file appears in the data directory), login and the API work."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx
import pytest

from jirabridge.service.settings import load_settings
from jirabridge.web.app import create_app

from .web_support import PASSWORD


@pytest.mark.slow
async def test_create_app_serves_login_connections_and_api(tmp_path: Path) -> None:
    app = create_app(load_settings(data_dir=tmp_path, environment="test"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        assert (await client.get("/connections")).status_code == 303
        page = await client.get("/login")
        await app.state.accounts.accounts.create_user(email="a@x.io", password=PASSWORD)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        r = await client.post(
            "/login",
            data={"email": "a@x.io", "password": PASSWORD, "csrf_token": token.group(1)},
        )
        assert r.status_code == 303
        listing = await client.get("/connections")
        assert "Jira: not connected" in listing.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', listing.text)
        assert csrf
        r = await client.post(
            "/api/keys",
            json={"name": "ci", "scopes": ["read"]},
            headers={"X-CSRF-Token": csrf.group(1)},
        )
        assert r.status_code == 201, r.text
        key = r.json()["key"]
        client.cookies.clear()
        me = await client.get("/api/account", headers={"Authorization": f"Bearer {key}"})
        assert me.json()["email"] == "a@x.io"
        nav = (await client.get("/")).text
        assert 'href="/connections"' in nav
    key_file = tmp_path / "encryption.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
