"""The OAuth 2.0 (3LO) dance against the simulated auth.atlassian.com, end to end."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from .edge_helpers import CLIENT_ID, CLIENT_SECRET, SITES, StandInSite, build_site

ALPHA, BETA = SITES[0].cloud_id, SITES[1].cloud_id
SCOPE = "read:jira-work write:jira-work offline_access"


def authorize_params(**extra: str) -> dict[str, str]:
    return {
        "audience": "api.atlassian.com",
        "client_id": CLIENT_ID,
        "scope": SCOPE,
        "redirect_uri": "https://app.test/cb",
        "state": "st-123",
        "response_type": "code",
        "prompt": "consent",
        **extra,
    }


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("https://app.test/cb?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def get_code(client: httpx.AsyncClient, **extra: str) -> str:
    query = redirect_query(await client.get("/authorize", params=authorize_params(**extra)))
    assert query["state"] == "st-123"
    return query["code"]


async def exchange(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    response = await client.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": code,
            "redirect_uri": "https://app.test/cb",
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, token: str, *, form: bool = False) -> httpx.Response:
    data = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": token,
    }
    if form:
        return await client.post("/oauth/token", data=data)
    return await client.post("/oauth/token", json=data)


async def test_full_dance_with_rotation_grace_and_revocation(site: StandInSite) -> None:
    async with site.client() as client:
        code = await get_code(client, sites=ALPHA)
        tokens = await exchange(client, code)
        assert tokens["token_type"] == "Bearer"
        assert tokens["expires_in"] == 3600
        assert tokens["scope"] == SCOPE
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

        resources = await client.get("/oauth/token/accessible-resources", headers=bearer)
        assert resources.status_code == 200
        [resource] = resources.json()
        assert resource["id"] == ALPHA
        assert resource["url"] == "https://alpha.atlassian.net"
        assert resource["name"] == "Alpha"
        assert resource["scopes"] == SCOPE.split()
        assert resource["avatarUrl"].startswith("https://")

        call = await client.get(f"/ex/jira/{ALPHA}/rest/api/3/myself", headers=bearer)
        assert call.status_code == 200
        principal = call.json()["principal"]
        assert call.json()["path"] == "/rest/api/3/myself"
        assert principal["auth_kind"] == "oauth"
        assert principal["cloud_id"] == ALPHA
        assert principal["account_id"] == "5b10ac8d82e05b22cc7d4ef5"
        assert "write:jira-work" in principal["scopes"]

        # The site the user did not pick is closed to this grant.
        other = await client.get(f"/ex/jira/{BETA}/rest/api/3/myself", headers=bearer)
        assert other.status_code == 401

        first_refresh = tokens["refresh_token"]
        rotated = await refresh(client, first_refresh)
        assert rotated.status_code == 200
        second = rotated.json()
        assert second["refresh_token"] != first_refresh
        assert second["access_token"] != tokens["access_token"]

        # The replaced token still works inside the 10-minute leeway...
        site.clock.advance(9 * 60)
        grace = await refresh(client, first_refresh, form=True)
        assert grace.status_code == 200

        # ...and reused after it, it kills the whole grant.
        site.clock.advance(2 * 60)
        reuse = await refresh(client, first_refresh)
        assert reuse.status_code == 403
        assert reuse.json()["error"] == "invalid_grant"
        assert set(reuse.json()) == {"error", "error_description"}
        for live in (second["refresh_token"], grace.json()["refresh_token"]):
            dead = await refresh(client, live)
            assert dead.json()["error"] == "invalid_grant"
        revoked_call = await client.get(
            f"/ex/jira/{ALPHA}/rest/api/3/myself",
            headers={"Authorization": f"Bearer {grace.json()['access_token']}"},
        )
        assert revoked_call.status_code == 401
        assert revoked_call.json() == {"code": 401, "message": "Unauthorized"}

        inspect = (await client.get("/_sim/oauth")).json()
        [grant] = inspect["grants"]
        assert grant["refreshCount"] == 2
        assert grant["revoked"] is True
        assert "reused" in grant["revokedReason"]


async def test_access_token_expires_after_its_lifetime() -> None:
    site = build_site(access_token_ttl=120.0)
    async with site.client() as client:
        tokens = await exchange(client, await get_code(client, consent="auto"))
        assert tokens["expires_in"] == 120
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await client.get(f"/ex/jira/{BETA}/rest/api/3/myself", headers=bearer)).is_success
        site.clock.advance(121)
        expired = await client.get(f"/ex/jira/{ALPHA}/rest/api/3/myself", headers=bearer)
        assert expired.status_code == 401
        resources = await client.get("/oauth/token/accessible-resources", headers=bearer)
        assert resources.status_code == 401


async def test_exactly_one_refresh_is_counted(site: StandInSite) -> None:
    async with site.client() as client:
        tokens = await exchange(client, await get_code(client, sites=f"{ALPHA},{BETA}"))
        assert (await refresh(client, tokens["refresh_token"])).status_code == 200
        snapshot = (await client.get("/_sim/oauth")).json()
        assert snapshot["refreshCount"] == 1
        assert snapshot["grants"][0]["cloudIds"] == [ALPHA, BETA]
        # Values of tokens never show up in the inspection API.
        assert tokens["refresh_token"] not in str(snapshot)


async def test_refresh_token_unused_for_90_days_expires(site: StandInSite) -> None:
    async with site.client() as client:
        tokens = await exchange(client, await get_code(client, consent="auto"))
        site.clock.advance(90 * 86400 + 1)
        response = await refresh(client, tokens["refresh_token"])
        assert response.status_code == 403
        assert response.json()["error"] == "invalid_grant"


async def test_refresh_within_90_days_keeps_the_grant_alive(site: StandInSite) -> None:
    async with site.client() as client:
        token = (await exchange(client, await get_code(client, consent="auto")))["refresh_token"]
        for _ in range(3):
            site.clock.advance(60 * 86400)
            response = await refresh(client, token)
            assert response.status_code == 200
            token = response.json()["refresh_token"]


async def test_deny_and_consent_page(site: StandInSite) -> None:
    async with site.client() as client:
        denied = redirect_query(
            await client.get("/authorize", params=authorize_params(consent="deny"))
        )
        assert denied == {"error": "access_denied", "state": "st-123"}

        page = await client.get("/authorize", params=authorize_params())
        assert page.status_code == 200
        assert "Alpha" in page.text
        assert "Beta" in page.text
        assert 'name="site"' in page.text

        # The form on the page: accept with the second site ticked.
        form = {**authorize_params(), "site": BETA, "decision": "accept"}
        query = redirect_query(await client.post("/authorize", data=form))
        tokens = await exchange(client, query["code"])
        resources = await client.get(
            "/oauth/token/accessible-resources",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert [r["id"] for r in resources.json()] == [BETA]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"client_id": "nope"}, "client_id"),
        ({"audience": "example.com"}, "audience"),
        ({"redirect_uri": "https://evil.test/cb"}, "redirect_uri"),
        ({"scope": ""}, "scope"),
    ],
)
async def test_authorize_rejects_bad_requests(
    site: StandInSite, change: dict[str, str], fragment: str
) -> None:
    async with site.client() as client:
        response = await client.get("/authorize", params={**authorize_params(), **change})
        assert response.status_code == 400
        assert fragment in response.text


async def test_code_is_single_use_and_expires(site: StandInSite) -> None:
    async with site.client() as client:
        code = await get_code(client, consent="auto")
        tokens = await exchange(client, code)
        replay = await client.post(
            "/oauth/token",
            json={
                "grant_type": "authorization_code",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "code": code,
                "redirect_uri": "https://app.test/cb",
            },
        )
        assert replay.status_code == 403
        assert replay.json()["error"] == "invalid_grant"
        # A replayed code revokes what it issued.
        assert (await refresh(client, tokens["refresh_token"])).status_code == 403

        late = await get_code(client, consent="auto")
        site.clock.advance(601)
        response = await client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "code": late,
                "redirect_uri": "https://app.test/cb",
            },
        )
        assert response.status_code == 403


async def test_token_endpoint_errors(site: StandInSite) -> None:
    async with site.client() as client:
        bad_secret = await client.post(
            "/oauth/token",
            json={"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": "x"},
        )
        assert bad_secret.status_code == 401
        assert bad_secret.json()["error"] == "access_denied"
        assert CLIENT_SECRET not in bad_secret.text
        unsupported = await client.post(
            "/oauth/token",
            json={"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        )
        assert unsupported.status_code == 400
        assert unsupported.json()["error"] == "unsupported_grant_type"
        garbage = await client.post(
            "/oauth/token", content=b"{", headers={"content-type": "application/json"}
        )
        assert garbage.status_code == 400
        assert garbage.json()["error"] == "invalid_request"


async def test_no_refresh_token_without_offline_access(site: StandInSite) -> None:
    async with site.client() as client:
        code = await get_code(client, consent="auto", scope="read:jira-work")
        assert "refresh_token" not in await exchange(client, code)


async def test_gateway_rejects_missing_or_unknown_tokens(site: StandInSite) -> None:
    async with site.client() as client:
        missing = await client.get(f"/ex/jira/{ALPHA}/rest/api/3/myself")
        assert missing.status_code == 401
        unknown = await client.get(
            f"/ex/jira/{ALPHA}/rest/api/3/myself", headers={"Authorization": "Bearer nope"}
        )
        assert unknown.status_code == 401
        # Outside the gateway, requests reach the site untouched (the core does basic auth).
        direct = await client.get("/rest/api/3/myself")
        assert direct.json()["principal"] is None


async def test_user_revocation_kills_tokens(site: StandInSite) -> None:
    async with site.client() as client:
        tokens = await exchange(client, await get_code(client, consent="auto"))
        assert (await client.post("/_sim/oauth/grants/1/revoke")).status_code == 204
        assert (await refresh(client, tokens["refresh_token"])).status_code == 403
        assert (await client.post("/_sim/oauth/grants/9/revoke")).status_code == 404
