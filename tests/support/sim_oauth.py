"""The 3LO dance with the simulator's registered OAuth app, for tests that act as an OAuth app."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from jirabridge.sim.app import SimRuntime

__all__ = ["oauth_access_token", "oauth_client"]


async def oauth_access_token(app: Starlette, client: httpx.AsyncClient) -> str:
    """Consent as the simulator's user through ``client`` (anonymous, on ``app``); the token."""
    runtime: SimRuntime = app.state.sim
    assert runtime.edges is not None
    [registered] = runtime.edges.oauth.config.clients
    redirect = await client.get(
        "/authorize",
        params={
            "audience": "api.atlassian.com",
            "client_id": registered.client_id,
            "scope": "read:jira-work write:jira-work manage:jira-webhook offline_access",
            "redirect_uri": "http://app.test/cb",
            "state": "s",
            "response_type": "code",
            "prompt": "consent",
            "consent": "auto",
        },
    )
    code = httpx.URL(redirect.headers["location"]).params["code"]
    tokens = (
        await client.post(
            "/oauth/token",
            json={
                "grant_type": "authorization_code",
                "client_id": registered.client_id,
                "client_secret": registered.client_secret,
                "code": code,
                "redirect_uri": "http://app.test/cb",
            },
        )
    ).json()
    return str(tokens["access_token"])


async def oauth_client(app: Starlette, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client on the simulator's API gateway, authorised as the simulator's OAuth app."""
    token = await oauth_access_token(app, client)
    bearer = {"Authorization": f"Bearer {token}"}
    resources = (await client.get("/oauth/token/accessible-resources", headers=bearer)).json()
    runtime: SimRuntime = app.state.sim
    assert resources[0]["id"] == runtime.cloud_id
    assert len(resources) == 2  # the consent page offers a second site to choose
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://sim.test/ex/jira/{runtime.cloud_id}",
        headers=bearer,
    )
