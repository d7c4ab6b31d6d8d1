"""The intake over HTTP: status codes for good, repeated, forged, oversized and non-JSON posts."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.github.webhooks import github_signature
from jirabridge.service.webhook_intake import create_endpoint
from jirabridge.store.secrets import SecretBox
from jirabridge.store.webhook_models import EndpointKind, WebhookSource
from jirabridge.store.webhooks import Owner

from .conftest import FIXTURES
from .receiver import receiving_app


async def test_intake_status_codes(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, owner: Owner, tmp_path: Path
) -> None:
    app, context = receiving_app(sessions, box, tmp_path)
    context.max_body = 64 * 1024
    async with sessions() as session:
        row, secret = await create_endpoint(
            session,
            box,
            owner_user_id=owner.user_id,
            name="gh",
            source=WebhookSource.GITHUB,
            kind=EndpointKind.GITHUB,
        )
        await session.commit()
    url = f"/webhooks/github/{row.id}"
    body = (FIXTURES / "github" / "issues.opened.json").read_bytes()

    def headers(payload: bytes, key: str = secret, delivery: str = "h-1") -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": github_signature(payload, key),
        }

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://jb.test"
    ) as client:
        first = await client.post(url, content=body, headers=headers(body))
        assert first.status_code == 202
        again = await client.post(url, content=body, headers=headers(body))
        assert again.status_code == 200
        assert again.json()["duplicate"] is True

        forged = await client.post(url, content=body, headers=headers(body, "wrong", "h-2"))
        assert forged.status_code == 401
        assert forged.headers["content-type"] == "application/problem+json"
        assert secret not in forged.text

        form = {
            **headers(body, delivery="h-3"),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        assert (await client.post(url, content=body, headers=form)).status_code == 415

        big = b'{"pad": "' + b"x" * (64 * 1024) + b'"}'
        too_big = await client.post(url, content=big, headers=headers(big, delivery="h-4"))
        assert too_big.status_code == 413

        unknown = await client.post(
            "/webhooks/github/no-such-endpoint", content=body, headers=headers(body)
        )
        assert unknown.status_code == 404
        wrong_source = await client.post(
            f"/webhooks/jira/{row.id}", content=body, headers=headers(body)
        )
        assert wrong_source.status_code == 404
