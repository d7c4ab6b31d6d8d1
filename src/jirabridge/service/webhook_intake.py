"""Webhook intake: verify a delivery against its endpoint's secret, store it, say whether it is new.

This is the hot path (the bench in bench/webhook_intake.py measures it): one cached endpoint
lookup, one constant-time check, one insert. Processing happens later, in
:mod:`jirabridge.service.webhook_worker`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import NotFoundError, ValidationError, WebhookVerificationError
from jirabridge.github.webhooks import verify_github_delivery
from jirabridge.jira.webhooks import verify_jira_delivery
from jirabridge.store.account_models import JiraConnectionRow
from jirabridge.store.secrets import SecretBinding, SecretBox
from jirabridge.store.webhook_models import EndpointKind, WebhookEndpointRow, WebhookSource
from jirabridge.store.webhooks import (
    NewDelivery,
    get_endpoint,
    record_deliveries,
    touch_endpoints,
)

__all__ = [
    "KEPT_HEADERS",
    "IntakeResult",
    "WebhookIntake",
    "create_endpoint",
    "endpoint_secret_binding",
]

log = logging.getLogger(__name__)

#: The headers stored with a delivery: what parsing needs, never credentials
#: (no Authorization, no signatures).
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "user-agent",
        "x-atlassian-webhook-identifier",
        "x-atlassian-webhook-retry",
        "x-atlassian-webhook-flow",
        "x-github-event",
        "x-github-delivery",
        "x-github-hook-id",
    }
)

_ENDPOINT_CACHE_SEC = 5.0
_WARN_EVERY_SEC = 60.0
_MAX_BATCH = 200
#: An endpoint's "last event at" is written at most this often: it is a health figure read by
#: people, and rewriting the endpoint row on every batch cost a statement per commit.
_TOUCH_EVERY_SEC = 1.0


def endpoint_secret_binding(endpoint: WebhookEndpointRow) -> SecretBinding:
    """The binding an endpoint's secret is encrypted under."""
    return SecretBinding(owner=endpoint.owner_ref, connection_id=endpoint.id, purpose="webhook")


async def create_endpoint(
    session: AsyncSession,
    box: SecretBox,
    *,
    owner_user_id: str | None,
    owner_team_id: str | None = None,
    name: str,
    source: WebhookSource,
    kind: EndpointKind,
    connection_id: str | None = None,
    secret: str | None = None,
) -> tuple[WebhookEndpointRow, str]:
    """Create an endpoint and return it with its secret (shown once, stored encrypted).

    A secret is generated unless one is given: dynamic webhooks are signed with the OAuth
    app's client secret, which the caller passes.
    """
    if (source == WebhookSource.GITHUB) != (kind == EndpointKind.GITHUB):
        raise ValidationError("GitHub endpoints use kind 'github'; Jira ones 'admin' or 'dynamic'")
    if not name.strip():
        raise ValidationError("a webhook endpoint needs a name")
    plain = secret or secrets.token_urlsafe(32)
    row = WebhookEndpointRow(
        owner_user_id=owner_user_id,
        owner_team_id=owner_team_id,
        connection_id=connection_id,
        name=name.strip()[:200],
        source=source.value,
        kind=kind.value,
        secret_ciphertext="",
        is_active=True,
    )
    session.add(row)
    await session.flush()
    row.secret_ciphertext = box.encrypt(plain, endpoint_secret_binding(row))
    await session.flush()
    return row, plain


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What happened to one delivery: stored (``new``) or recognised as a repeat."""

    endpoint_id: str
    delivery_id: str
    event: str
    new: bool


@dataclass(frozen=True, slots=True)
class _Endpoint:
    id: str
    source: str
    kind: str
    secret: str
    loaded_at: float
    #: What a dynamic webhook's JWT must say: ``aud`` our OAuth client id, ``iss`` the site.
    issuer: str | None = None
    audience: str | None = None


class WebhookIntake:
    """Verifies and stores deliveries; one per process (it caches decrypted secrets briefly)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        *,
        clock: Callable[[], float] = time.time,
        oauth_client_id: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._client_id = oauth_client_id
        self._box = box
        self._clock = clock
        self._cache: dict[str, _Endpoint] = {}
        self._last_warning: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._queue: list[tuple[NewDelivery, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._loading: dict[str, asyncio.Future[_Endpoint | None]] = {}
        self._touched: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"WebhookIntake(cached_endpoints={len(self._cache)})"

    async def _store(self, pending: NewDelivery) -> bool:
        # Group commit: deliveries arriving while a commit is in flight wait for the next one
        # and share it. One transaction per batch instead of per delivery is what lets a
        # single SQLite writer (or a PostgreSQL fsync) keep up with bursts.
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((pending, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        return await asyncio.shield(future)

    async def _flush_loop(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:_MAX_BATCH], self._queue[_MAX_BATCH:]
            try:
                results = await self._write_batch([item for item, _ in batch])
            except Exception as exc:  # every waiter gets the failure; none is acknowledged
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), new in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(new)

    async def _write_batch(self, batch: list[NewDelivery]) -> list[bool]:
        clock = self._clock()
        now = datetime.fromtimestamp(clock, UTC)
        stale = {
            item.endpoint_id
            for item in batch
            if clock - self._touched.get(item.endpoint_id, float("-inf")) >= _TOUCH_EVERY_SEC
        }
        async with self._sessions() as session:
            results = await record_deliveries(session, batch, now)
            if stale:
                await touch_endpoints(session, stale, now)
            await session.commit()
        for endpoint_id in stale:
            self._touched[endpoint_id] = clock
        return results

    def forget(self, endpoint_id: str) -> None:
        """Drop a cached endpoint (after its secret changed or it was deactivated)."""
        self._cache.pop(endpoint_id, None)

    async def _load(self, endpoint_id: str) -> _Endpoint | None:
        async with self._sessions() as session:
            row = await get_endpoint(session, endpoint_id)
            if row is None or not row.is_active:
                return None
            secret = self._box.decrypt(row.secret_ciphertext, endpoint_secret_binding(row))
            issuer = audience = None
            if row.kind == EndpointKind.DYNAMIC:
                audience = self._client_id
                connection = (
                    await session.get(JiraConnectionRow, row.connection_id)
                    if row.connection_id
                    else None
                )
                if connection is not None and connection.cloud_id:
                    issuer = f"jira:{connection.cloud_id}"
            return _Endpoint(row.id, row.source, row.kind, secret, self._clock(), issuer, audience)

    async def _endpoint(self, endpoint_id: str, source: str) -> _Endpoint:
        cached = self._cache.get(endpoint_id)
        if cached is None or self._clock() - cached.loaded_at > _ENDPOINT_CACHE_SEC:
            # Single flight: a burst to a cold endpoint makes one query, not one per request.
            loading = self._loading.get(endpoint_id)
            if loading is None:
                loading = asyncio.ensure_future(self._load(endpoint_id))
                self._loading[endpoint_id] = loading
                loading.add_done_callback(lambda _f: self._loading.pop(endpoint_id, None))
            loaded = await asyncio.shield(loading)
            if loaded is None:
                self._cache.pop(endpoint_id, None)
                raise NotFoundError("no such webhook endpoint")
            self._cache[endpoint_id] = cached = loaded
        if cached.source != source:
            raise NotFoundError("no such webhook endpoint")
        return cached

    def _warn_bad_signature(self, endpoint_id: str, error: WebhookVerificationError) -> None:
        # One line per endpoint per minute: a flood of forged requests must not flood the log.
        now = self._clock()
        last = self._last_warning.get(endpoint_id)
        if last is not None and now - last < _WARN_EVERY_SEC:
            self._suppressed[endpoint_id] = self._suppressed.get(endpoint_id, 0) + 1
            return
        suppressed = self._suppressed.pop(endpoint_id, 0)
        self._last_warning[endpoint_id] = now
        log.warning(
            "refused a webhook delivery to endpoint %s: %s (%d more refused since last warning)",
            endpoint_id,
            error.message,
            suppressed,
        )

    def _verify(
        self, endpoint: _Endpoint, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, str]:
        if endpoint.source == WebhookSource.GITHUB:
            github = verify_github_delivery(headers, body, endpoint.secret)
            return github.delivery_id, github.event
        if endpoint.kind == EndpointKind.DYNAMIC:
            headers = _jwt_as_bearer(headers)
            jira = verify_jira_delivery(
                headers,
                body,
                client_secret=endpoint.secret,
                clock=self._clock,
                issuer=endpoint.issuer,
                audience=endpoint.audience,
            )
        else:
            jira = verify_jira_delivery(headers, body, secret=endpoint.secret)
        # Jira Server sends no identifier: the body (with its timestamp) identifies the event.
        delivery_id = jira.delivery_id or "sha256:" + hashlib.sha256(body).hexdigest()
        return delivery_id, jira.event

    async def receive(
        self, source: WebhookSource, endpoint_id: str, headers: Mapping[str, str], body: bytes
    ) -> IntakeResult:
        """Verify and store one delivery. Returns once it is committed.

        Raises :class:`NotFoundError` for an unknown endpoint,
        :class:`WebhookVerificationError` for a bad signature (logged, rate-limited) and
        :class:`ValidationError` for a verified body that is not a webhook.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        endpoint = await self._endpoint(endpoint_id, source.value)
        try:
            delivery_id, event = self._verify(endpoint, lowered, body)
        except WebhookVerificationError as exc:
            self._warn_bad_signature(endpoint_id, exc)
            raise
        kept = {k: v for k, v in lowered.items() if k in KEPT_HEADERS}
        pending = NewDelivery(endpoint.id, endpoint.source, delivery_id, event, body, kept)
        new = await self._store(pending)
        return IntakeResult(endpoint_id, delivery_id, event, new)


def _jwt_as_bearer(headers: Mapping[str, str]) -> Mapping[str, str]:
    # Atlassian documents "Authorization: JWT <token>" for Connect-style deliveries and sends
    # "Bearer <token>" for OAuth 2.0 dynamic webhooks; the verifier takes the latter form.
    value = headers.get("authorization", "")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() == "jwt" and token.strip():
        return {**headers, "authorization": f"Bearer {token.strip()}"}
    return headers
