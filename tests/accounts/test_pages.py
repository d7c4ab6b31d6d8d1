"""The pages over HTTP: login/logout, CSRF on forms and htmx, the step-by-step setup, API
keys, the OAuth dance with site selection and disconnect, the audit page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from jirabridge.sim.app import SimRuntime
from jirabridge.store.account_models import UserRole

from .web_support import PASSWORD, accounts_app, make_settings, make_sim

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def sim() -> Starlette:
    return make_sim()


@pytest.fixture
def app(acc_sessions: Sessions, sim: Starlette, tmp_path: Path) -> FastAPI:
    return accounts_app(make_settings(tmp_path, sim), acc_sessions, sim)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def log_in(browser: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    page = await browser.get("/login")
    r = await browser.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 303, r.text
    page = await browser.get("/connections")
    assert page.status_code == 200
    return csrf_of(page.text)


async def test_pages_need_login(browser: httpx.AsyncClient) -> None:
    for path in ("/connections", "/account", "/account/keys", "/connections/new"):
        r = await browser.get(path)
        assert r.status_code == 303
        assert r.headers["location"] == f"/login?next={path}"


async def test_login_wrong_password_then_right_then_logout(
    browser: httpx.AsyncClient, app: FastAPI
) -> None:
    await app.state.accounts.accounts.create_user(email="a@x.io", password=PASSWORD)
    page = await browser.get("/login")
    r = await browser.post(
        "/login", data={"email": "a@x.io", "password": "nope", "csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 400
    assert "Wrong e-mail or password" in r.text
    csrf = await log_in(browser, "a@x.io")
    cookie = browser.cookies.get("jb_session")
    assert cookie
    set_cookie = (await browser.get("/login")).headers.get("set-cookie", "")
    assert "jb_session" not in set_cookie
    # Logging out without the CSRF token is refused; with it the session ends.
    r = await browser.post("/logout")
    assert r.status_code == 403
    r = await browser.post("/logout", data={"csrf_token": csrf})
    assert r.status_code == 303
    browser.cookies.set("jb_session", cookie)
    assert (await browser.get("/connections")).status_code == 303


async def test_login_form_needs_its_csrf_cookie(browser: httpx.AsyncClient, app: FastAPI) -> None:
    await app.state.accounts.accounts.create_user(email="a@x.io", password=PASSWORD)
    r = await browser.post(
        "/login", data={"email": "a@x.io", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert r.status_code == 403


async def test_session_cookie_flags(browser: httpx.AsyncClient, app: FastAPI) -> None:
    await app.state.accounts.accounts.create_user(email="a@x.io", password=PASSWORD)
    page = await browser.get("/login")
    r = await browser.post(
        "/login", data={"email": "a@x.io", "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    )
    header = r.headers["set-cookie"].lower()
    assert "httponly" in header
    assert "samesite=lax" in header


async def test_setup_test_then_save_and_csrf_on_htmx(
    browser: httpx.AsyncClient, app: FastAPI, sim: Starlette
) -> None:
    runtime: SimRuntime = sim.state.sim
    await app.state.accounts.accounts.create_user(email="a@x.io", password=PASSWORD)
    csrf = await log_in(browser, "a@x.io")
    step1 = await browser.get("/connections/new")
    assert "/connections/new?kind=cloud_token" in step1.text
    step2 = await browser.get("/connections/new?kind=cloud_token")
    assert 'name="secret"' in step2.text
    form = {
        "kind": "cloud_token",
        "name": "Sim",
        "base_url": "http://sim.test",
        "email": runtime.admin_email,
        "secret": "wrong",
    }
    # The htmx Test button without the CSRF header is refused.
    r = await browser.post("/connections/new/test", data=form, headers={"HX-Request": "true"})
    assert r.status_code == 403
    r = await browser.post("/connections/new/test", data=form, headers={"X-CSRF-Token": csrf})
    assert "Test failed" in r.text
    # Saving with a failing test saves nothing and offers "save anyway".
    r = await browser.post("/connections/new", data={**form, "csrf_token": csrf})
    assert r.status_code == 422
    assert 'name="force"' in r.text
    assert "No connections yet" in (await browser.get("/connections")).text
    good = {**form, "secret": runtime.admin_token}
    r = await browser.post("/connections/new/test", data=good, headers={"X-CSRF-Token": csrf})
    assert "Connection works" in r.text
    r = await browser.post("/connections/new", data={**good, "csrf_token": csrf})
    assert r.status_code == 303
    listing = await browser.get("/connections")
    assert "Sim" in listing.text
    assert "Jira: 1 connected" in listing.text
    assert runtime.admin_token not in listing.text
    cid = re.search(r'id="conn-([0-9a-f-]+)"', listing.text)
    assert cid
    r = await browser.post(f"/connections/{cid.group(1)}/test", headers={"X-CSRF-Token": csrf})
    assert "OK" in r.text


async def test_api_keys_page_shows_key_once(browser: httpx.AsyncClient, app: FastAPI) -> None:
    await app.state.accounts.accounts.create_user(email="a@x.io", password=PASSWORD)
    csrf = await log_in(browser, "a@x.io")
    r = await browser.post(
        "/account/keys", data={"name": "ci", "scopes": ["read", "write"], "csrf_token": csrf}
    )
    key = re.search(r'<code id="new-key">([^<]+)</code>', r.text)
    assert key
    again = await browser.get("/account/keys")
    assert key.group(1) not in again.text
    assert "ci" in again.text
    api = await browser.get("/api/account", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert api.json()["email"] == "a@x.io"


async def follow_consent(
    app_browser: httpx.AsyncClient, sim: Starlette, location: str, **extra: str
) -> str:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as atlassian:
        query = "&".join(f"{k}={v}" for k, v in extra.items())
        r = await atlassian.get(f"{location}&{query}")
    assert r.status_code in (302, 303), r.text
    return r.headers["location"]


async def test_oauth_connect_with_site_selection_then_disconnect(
    browser: httpx.AsyncClient, app: FastAPI, sim: Starlette
) -> None:
    await app.state.accounts.accounts.create_user(email="a@x.io", password=PASSWORD)
    csrf = await log_in(browser, "a@x.io")
    r = await browser.post("/connections/oauth/start", data={"csrf_token": csrf})
    assert r.status_code == 303
    authorize = r.headers["location"]
    assert authorize.startswith("http://sim.test/authorize?")
    assert "prompt=consent" in authorize
    assert "offline_access" in authorize
    callback = await follow_consent(browser, sim, authorize, consent="auto")
    r = await browser.get(callback)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/connections/oauth/sites/")
    choose = await browser.get(r.headers["location"])
    assert "Simulated Jira (sandbox)" in choose.text
    cloud_ids = re.findall(r'name="cloud_id" value="([^"]+)"', choose.text)
    assert len(cloud_ids) == 2
    r = await browser.post(
        r.headers["location"], data={"cloud_id": cloud_ids[0], "csrf_token": csrf}
    )
    assert r.status_code == 303
    listing = await browser.get("/connections")
    assert "Jira: 1 connected" in listing.text
    cid = re.search(r'id="conn-([0-9a-f-]+)"', listing.text)
    assert cid
    r = await browser.post(f"/connections/{cid.group(1)}/test", headers={"X-CSRF-Token": csrf})
    assert "OK" in r.text
    # Replaying the callback does nothing.
    replay = await browser.get(callback)
    assert replay.status_code == 303
    assert len(re.findall(r'id="conn-', (await browser.get("/connections")).text)) == 1
    r = await browser.post(f"/connections/{cid.group(1)}/disconnect", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert "reconnect needed" in (await browser.get("/connections")).text


async def test_oauth_access_denied_flashes_and_saves_nothing(
    browser: httpx.AsyncClient, app: FastAPI, sim: Starlette
) -> None:
    await app.state.accounts.accounts.create_user(email="a@x.io", password=PASSWORD)
    csrf = await log_in(browser, "a@x.io")
    r = await browser.post("/connections/oauth/start", data={"csrf_token": csrf})
    callback = await follow_consent(browser, sim, r.headers["location"], consent="deny")
    r = await browser.get(callback)
    assert r.status_code == 303
    listing = await browser.get("/connections")
    assert "declined" in listing.text
    assert "No connections yet" in listing.text


async def test_audit_page_for_admins_only(browser: httpx.AsyncClient, app: FastAPI) -> None:
    accounts = app.state.accounts.accounts
    await accounts.create_user(email="m@x.io", password=PASSWORD)
    await accounts.create_user(email="admin@x.io", password=PASSWORD, role=UserRole.ADMIN)
    await log_in(browser, "m@x.io")
    assert (await browser.get("/admin/audit")).status_code == 403
    browser.cookies.clear()
    await log_in(browser, "admin@x.io")
    page = await browser.get("/admin/audit")
    assert page.status_code == 200
    assert "user.login" in page.text
