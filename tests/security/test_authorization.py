"""The authorization matrix: every route of the app x (anonymous, another user, a member on
an admin route, a session without its CSRF token, an API key without one).

The routes come from the app itself, so a route added without a line in
``tests/security/routes.py`` fails :func:`test_every_route_is_classified` by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jirabridge.service.settings import load_settings
from security.routes import NOT_WALKED, ROUTES, Rule, fill, fill_any
from security.world import MALLORY_PASSWORD, Login, World, submit_login

from support.routes import app_routes

pytestmark = pytest.mark.slow

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _walked(*faces: str) -> list[tuple[str, str, Rule]]:
    return [
        (m, p, r)
        for (m, p), r in sorted(ROUTES.items())
        if r.face in faces and m != "MOUNT" and (m, p) not in NOT_WALKED
    ]


def _id(value: object) -> str:
    return "" if isinstance(value, Rule) else str(value)


def _request(world: World, method: str, path: str, rule: Rule, who: Login | None, **kw: Any) -> Any:
    kwargs: dict[str, Any] = {}
    if rule.query:
        kwargs["params"] = fill_any(rule.query, world.ids)
    if rule.json is not None:
        kwargs["json"] = fill_any(rule.json, world.ids)
    if rule.form is not None:
        kwargs["data"] = fill_any(rule.form, world.ids)
    return world.call(method, fill(path, rule.ids(world.ids)), who, **kwargs, **kw)


def test_every_route_is_classified(world: World) -> None:
    served = set(app_routes(world.app))
    missing = sorted(served - set(ROUTES))
    assert not missing, (
        "routes with no line in tests/security/routes.py (say who may call them): "
        + ", ".join(f"{m} {p}" for m, p in missing)
    )
    stale = sorted(set(ROUTES) - served)
    assert not stale, "routes.py lists routes the app no longer serves: " + ", ".join(
        f"{m} {p}" for m, p in stale
    )


@pytest.mark.parametrize(("method", "path", "rule"), _walked("api"), ids=_id)
def test_api_refuses_anonymous(world: World, method: str, path: str, rule: Rule) -> None:
    answer = _request(world, method, path, rule, None)
    assert answer.status_code == 401, answer.text[:300]
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path", "rule"), _walked("page"), ids=_id)
def test_pages_send_anonymous_to_login(world: World, method: str, path: str, rule: Rule) -> None:
    answer = _request(world, method, path, rule, None)
    if method == "POST" and path == "/logout":
        assert answer.status_code == 303
        return
    if path == "/connections/oauth/callback":
        assert answer.status_code in (303, 400, 401), answer.text[:300]
        return
    assert answer.status_code in (303, 401), answer.text[:300]
    if answer.status_code == 303:
        assert answer.headers["location"].startswith("/login"), answer.headers["location"]


def test_public_routes_answer_anyone(world: World) -> None:
    for method, path, _ in _walked("public"):
        answer = world.call(method, path)
        assert answer.status_code < 400, (method, path, answer.status_code)


def test_webhooks_refuse_unsigned(world: World) -> None:
    for method, path, _ in _walked("webhook"):
        answer = world.call(
            method,
            fill(path, world.ids),
            content=b"{}",
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code in (401, 404), (path, answer.status_code, answer.text[:300])
        assert answer.status_code != 202


_OWNED = [(m, p, r) for m, p, r in _walked("api", "page") if r.owned]


@pytest.mark.parametrize(("method", "path", "rule"), _OWNED, ids=_id)
def test_another_users_object_is_not_found(
    world: World, method: str, path: str, rule: Rule
) -> None:
    session = rule.face == "page"
    answer = _request(world, method, path, rule, world.mallory, session=session)
    assert answer.status_code == rule.other, (
        f"mallory {method} {fill(path, world.ids)} -> {answer.status_code}: {answer.text[:300]}"
    )
    if rule.other == 200:
        assert answer.json() in ([], {}), answer.text[:300]


_OWNED_READS = [(m, p, r) for m, p, r in _OWNED if m == "GET" and r.real]


@pytest.mark.parametrize(("method", "path", "rule"), _OWNED_READS, ids=_id)
def test_the_owner_reaches_the_same_object(
    world: World, method: str, path: str, rule: Rule
) -> None:
    # The other half of the matrix: the 404 above is about who asks, not a missing object.
    answer = _request(world, method, path, rule, world.admin, session=rule.face == "page")
    assert answer.status_code == 200, answer.text[:300]


@pytest.mark.parametrize(
    ("method", "path", "rule"), [t for t in _walked("api", "page") if t[2].admin], ids=_id
)
def test_admin_routes_refuse_members(world: World, method: str, path: str, rule: Rule) -> None:
    session = rule.face == "page"
    refused = _request(world, method, path, rule, world.mallory, session=session)
    assert refused.status_code == 403, refused.text[:300]
    allowed = _request(world, method, path, rule, world.admin, session=session)
    assert allowed.status_code == 200, allowed.text[:300]


_SESSION_WRITES = [
    (m, p, r) for m, p, r in _walked("api", "page") if m in _WRITES and p != "/logout"
]


@pytest.mark.parametrize(("method", "path", "rule"), _SESSION_WRITES, ids=_id)
def test_session_writes_need_the_csrf_token(
    world: World, method: str, path: str, rule: Rule
) -> None:
    # Mallory's own session: without the token nothing is looked up, let alone changed.
    missing = _request(world, method, path, rule, world.mallory, session=True, csrf=False)
    assert missing.status_code == 403, missing.text[:300]
    assert "CSRF" in missing.text
    wrong = _request(
        world,
        method,
        path,
        rule,
        world.mallory,
        session=True,
        csrf=False,
        headers={"X-CSRF-Token": world.admin.csrf},
    )
    assert wrong.status_code == 403, wrong.text[:300]


_PAGE_WRITES = [(m, p, r) for m, p, r in _walked("page") if m in _WRITES and p != "/logout"]


@pytest.mark.parametrize(("method", "path", "rule"), _PAGE_WRITES, ids=_id)
def test_page_forms_refuse_a_read_only_key(
    world: World, method: str, path: str, rule: Rule
) -> None:
    # A key skips the CSRF check (no browser sends it by itself), so its scope must hold.
    read_only = {"Authorization": f"Bearer {world.mallory.read_key}"}
    answer = _request(world, method, path, rule, None, headers=read_only)
    if answer.status_code == 303:  # a session-only flow (OAuth start) sends keys to the login
        assert answer.headers["location"].startswith("/login"), answer.headers["location"]
        return
    assert answer.status_code == 403, answer.text[:300]


def test_api_keys_need_no_csrf_token(world: World) -> None:
    answer = world.call(
        "POST", "/api/issue-keys/explain", world.mallory, json={"text": "fixes DEMO-1 and UTF-8"}
    )
    assert answer.status_code == 200, answer.text
    with_session = world.call(
        "POST",
        "/api/issue-keys/explain",
        world.mallory,
        session=True,
        json={"text": "DEMO-1"},
    )
    assert with_session.status_code == 200, with_session.text


def test_session_cookie_flags(world: World) -> None:
    world.client.cookies.clear()
    login_cookie = world.client.get("/login").headers["set-cookie"].lower()
    world.client.cookies.clear()
    assert "httponly" in login_cookie
    assert "samesite=strict" in login_cookie
    answer = submit_login(world.client, world.mallory.email, MALLORY_PASSWORD)
    session = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and "jb_session=" in v
    ).lower()
    assert "httponly" in session
    assert "samesite=lax" in session
    assert "path=/" in session
    # http://testserver: no Secure here; https gets it (test_cookies_are_secure_on_https).
    assert "secure" not in session


def test_cookies_are_secure_on_https(tmp_path: Path) -> None:
    from starlette.responses import Response

    from jirabridge.service.account_wiring import build_accounts_context
    from jirabridge.store.db import make_engine, session_factory
    from jirabridge.web.auth import set_session_cookie

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite'}")
    for base_url, secure in (("https://jb.example.com", True), ("http://127.0.0.1:8080", False)):
        settings = load_settings(data_dir=tmp_path, environment="test", base_url=base_url)
        context = build_accounts_context(settings, session_factory(engine))
        assert context.secure_cookies is secure
        response = Response()
        set_session_cookie(response, "token", secure=context.secure_cookies)
        assert ("secure" in response.headers["set-cookie"].lower()) is secure
