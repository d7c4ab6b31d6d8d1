"""Dynamic webhook JWTs: besides signature and expiry, ``aud`` must be our OAuth app and ``iss``
the connection's site. A token signed with the right secret for another app or site is refused.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import WebhookVerificationError
from jirabridge.jira.webhooks import verify_jira_delivery
from jirabridge.store.account_models import JiraConnectionRow
from jirabridge.store.secrets import SecretBox
from jirabridge.store.webhook_models import EndpointKind
from jirabridge.store.webhooks import Owner

from .conftest import add_endpoint, make_connection
from .receiver import receiving_app

CLIENT_ID = "our-client-id"
CLIENT_SECRET = "our-client-secret-of-enough-length-for-hs256"
CLOUD_ID = "11111111-2222-3333-4444-555555555555"


def _token(**claims: object) -> str:
    now = int(time.time())
    payload = {"iss": f"jira:{CLOUD_ID}", "aud": CLIENT_ID, "iat": now, "exp": now + 60}
    payload.update(claims)
    # ``None`` means "leave the claim out".
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, CLIENT_SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "another-app"}, "unexpected audience"),
        ({"iss": "jira:another-site"}, "unexpected issuer"),
        ({"iss": None}, "unexpected issuer"),
    ],
)
def test_the_verifier_names_the_claim_that_failed(claims: dict[str, object], reason: str) -> None:
    headers = {"Authorization": f"Bearer {_token(**claims)}"}
    body = b'{"webhookEvent": "jira:issue_updated", "timestamp": 1}'
    with pytest.raises(WebhookVerificationError, match=reason):
        verify_jira_delivery(
            headers,
            body,
            client_secret=CLIENT_SECRET,
            issuer=f"jira:{CLOUD_ID}",
            audience=CLIENT_ID,
        )
    verify_jira_delivery(
        {"Authorization": f"Bearer {_token()}"},
        body,
        client_secret=CLIENT_SECRET,
        issuer=f"jira:{CLOUD_ID}",
        audience=CLIENT_ID,
    )


async def test_wrong_issuer_or_audience_is_refused(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, tmp_path: Path
) -> None:
    app, _context = receiving_app(
        sessions, box, tmp_path, oauth_client_secret=CLIENT_SECRET, oauth_client_id=CLIENT_ID
    )
    site = await make_connection(sessions, owner)
    async with sessions() as session:
        connection = await session.get(JiraConnectionRow, site)
        assert connection is not None
        connection.cloud_id = CLOUD_ID
        await session.commit()
    endpoint_id, _ = await add_endpoint(
        sessions, box, owner, EndpointKind.DYNAMIC, site, secret=CLIENT_SECRET
    )
    body = json.dumps(
        {"webhookEvent": "jira:issue_updated", "timestamp": 1, "issue": {"id": "1", "key": "A-1"}}
    ).encode()

    def post_headers(delivery: str, **claims: object) -> dict[str, str]:
        token = _token(**claims)
        return {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "X-Atlassian-Webhook-Identifier": delivery,
        }

    url = f"/webhooks/jira/{endpoint_id}"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://jb.test"
    ) as client:
        other_app = await client.post(url, content=body, headers=post_headers("d1", aud="x"))
        assert other_app.status_code == 401
        other_site = await client.post(
            url, content=body, headers=post_headers("d2", iss="jira:another-site")
        )
        assert other_site.status_code == 401
        no_claims = await client.post(
            url, content=body, headers=post_headers("d3", iss=None, aud=None)
        )
        assert no_claims.status_code == 401
        good = await client.post(url, content=body, headers=post_headers("d4"))
        assert good.status_code == 202, good.text
