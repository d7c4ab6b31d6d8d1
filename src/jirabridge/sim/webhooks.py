"""Webhooks of the simulated site: registration, matching, signing and delivery with retries.

Two kinds, as on Jira Cloud:

- **admin webhooks**, registered through Jira's admin REST ``/rest/webhooks/1.0/webhook``
  (``name``, ``url``, ``events``, ``filters`` / ``jqlFilter``, ``secret``, ``excludeBody``) or
  the inspection API ``/_sim/webhooks``. With a secret, every delivery carries
  ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>``. They receive every event,
  worklog events included.
- **dynamic webhooks** of OAuth apps, ``/rest/api/3/webhook`` (register, list, delete,
  ``/refresh``) with the platform spec's shapes. They expire 30 days after registration or the
  last refresh, are limited to 5 per app and user on a site, get no worklog events (as on
  Cloud), and their deliveries carry ``Authorization: JWT <token>``: an HS256 JWT signed with
  the app's client secret (claims ``iss`` = ``jira:<cloudId>``, ``aud`` = client id, ``sub`` =
  the registering account, ``iat``/``exp`` on the SimClock). Bodies carry
  ``matchedWebhookIds`` as Jira's do.

:class:`WebhookDispatcher` subscribes to the site's :class:`~jirabridge.sim.events.EventBus`,
queues one delivery per matching webhook and POSTs it from a background task with httpx.
Every delivery has an ``X-Atlassian-Webhook-Identifier`` (the same on its retries). A
receiver that answers 408, 409, 425, 429 or 5xx, or cannot be reached, is retried with
``X-Atlassian-Webhook-Retry: <n>`` up to ``max_retries`` times, each after a random 5-15 min on
the SimClock (tests advance the clock and call :meth:`WebhookDispatcher.drain`). Other 4xx
answers are final. Every attempt is logged at ``GET /_sim/webhooks/deliveries``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jirabridge.sim.clock import SimClock
from jirabridge.sim.errors import jira_error_body
from jirabridge.sim.events import SimEvent
from jirabridge.sim.faults import FaultInjector
from jirabridge.sim.oauth import principal_from_scope

__all__ = [
    "DYNAMIC_EVENTS",
    "AdminAuthenticator",
    "AdminWebhook",
    "Delivery",
    "DynamicWebhook",
    "JqlMatcher",
    "WebhookConfig",
    "WebhookDispatcher",
    "project_filter_matcher",
]

#: Events an OAuth app may subscribe to (the platform spec's enum; no worklog events).
DYNAMIC_EVENTS = frozenset(
    {
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
        "comment_created",
        "comment_updated",
        "comment_deleted",
        "issue_property_set",
        "issue_property_deleted",
        "sprint_created",
        "sprint_updated",
        "sprint_closed",
        "sprint_deleted",
        "sprint_started",
        "jira:version_released",
        "jira:version_unreleased",
        "jira:version_created",
        "jira:version_moved",
        "jira:version_updated",
        "jira:version_merged",
        "jira:version_deleted",
    }
)
_RETRY_STATUSES = frozenset({408, 409, 425, 429})
_ONLY_APPS = jira_error_body(["Only apps can access this resource."])

#: ``(jql, event) -> matches``; raises ``ValueError`` with Jira's message for a bad filter.
JqlMatcher = Callable[[str, SimEvent], bool]
#: Who calls the admin REST: None if unauthenticated, else a mapping with ``admin`` (bool).
AdminAuthenticator = Callable[[Request], Mapping[str, Any] | None]
_NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."


def _anyone_is_admin(request: Request) -> Mapping[str, Any] | None:
    return {"admin": True}


@dataclass
class WebhookConfig:
    """Delivery and registration settings (seconds on the SimClock unless said otherwise)."""

    max_retries: int = 5
    retry_delay_seconds: tuple[float, float] = (300.0, 900.0)
    dynamic_ttl_seconds: float = 30 * 86400.0
    max_dynamic_per_user: int = 5
    #: Real seconds a receiver has to answer.
    timeout_seconds: float = 20.0
    jwt_ttl_seconds: float = 180.0
    #: The ``Authorization`` scheme of dynamic deliveries.
    dynamic_auth_scheme: str = "JWT"
    #: Real seconds the background task sleeps at most before it looks at the clock again.
    poll_interval_seconds: float = 0.5
    seed: int = 0


@dataclass
class AdminWebhook:
    """A webhook an administrator registered (the secret is write-only)."""

    id: int
    name: str
    url: str
    events: tuple[str, ...]
    jql_filter: str
    secret: str | None = field(default=None, repr=False)
    exclude_body: bool = False
    enabled: bool = True
    last_updated_ms: int = 0

    def as_json(self, base_url: str) -> dict[str, Any]:
        """The admin REST representation (never the secret)."""
        return {
            "self": f"{base_url}/rest/webhooks/1.0/webhook/{self.id}",
            "name": self.name,
            "url": self.url,
            "events": list(self.events),
            "filters": {"issue-related-events-section": self.jql_filter},
            "excludeBody": self.exclude_body,
            "enabled": self.enabled,
            "lastUpdated": self.last_updated_ms,
        }


@dataclass
class DynamicWebhook:
    """A webhook an OAuth app registered through ``/rest/api/3/webhook``."""

    id: int
    client_id: str
    account_id: str
    cloud_id: str
    url: str
    events: tuple[str, ...]
    jql_filter: str
    expires_at: float
    field_ids_filter: tuple[str, ...] | None = None
    property_keys_filter: tuple[str, ...] | None = None

    def as_json(self) -> dict[str, Any]:
        """The spec's ``Webhook`` shape (``expirationDate`` in epoch milliseconds)."""
        body: dict[str, Any] = {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "jqlFilter": self.jql_filter,
            "expirationDate": int(self.expires_at * 1000),
        }
        if self.field_ids_filter is not None:
            body["fieldIdsFilter"] = list(self.field_ids_filter)
        if self.property_keys_filter is not None:
            body["issuePropertyKeysFilter"] = list(self.property_keys_filter)
        return body


@dataclass
class _Attempt:
    at: float
    retry: int
    status: int | None
    error: str | None


@dataclass
class Delivery:
    """One event for one webhook, with every attempt made to deliver it."""

    identifier: str
    kind: Literal["admin", "dynamic"]
    webhook_id: int
    event: str
    url: str
    body: bytes = field(repr=False)
    next_at: float
    state: Literal["pending", "delivered", "failed"] = "pending"
    retries: int = 0
    attempts: list[_Attempt] = field(default_factory=list)
    in_flight: bool = False

    def as_json(self) -> dict[str, Any]:
        """The delivery log entry."""
        return {
            "identifier": self.identifier,
            "kind": self.kind,
            "webhookId": self.webhook_id,
            "event": self.event,
            "url": self.url,
            "state": self.state,
            "retries": self.retries,
            "nextAttemptAt": self.next_at if self.state == "pending" else None,
            "attempts": [
                {"at": a.at, "retry": a.retry, "status": a.status, "error": a.error}
                for a in self.attempts
            ],
        }


_CLAUSE = re.compile(
    r"^\s*(?P<field>\"[^\"]+\"|[\w.\[\]]+)\s*(?P<op>!=|=|not\s+in|in)\s*(?P<value>.+?)\s*$",
    re.IGNORECASE,
)


def project_filter_matcher(jql: str, event: SimEvent) -> bool:
    """A stand-in filter for when no JQL evaluator is plugged in.

    Understands ``AND``-joined clauses on ``project`` and ``issueKey``/``key`` with ``=``,
    ``!=``, ``IN`` and ``NOT IN``; other fields of the webhook JQL subset are accepted and not
    evaluated (they match). Anything else raises ``ValueError``.
    """
    if not jql.strip():
        return True
    for clause in re.split(r"\s+AND\s+", jql.strip(), flags=re.IGNORECASE):
        m = _CLAUSE.match(clause)
        if m is None:
            raise ValueError(f"The JQL clause {clause.strip()!r} could not be parsed.")
        name = m["field"].strip('"').lower()
        op = " ".join(m["op"].lower().split())
        raw = m["value"].strip()
        if op in ("in", "not in"):
            if not (raw.startswith("(") and raw.endswith(")")):
                raise ValueError(f"The JQL clause {clause.strip()!r} needs a list in parentheses.")
            values = {v.strip().strip('"').upper() for v in raw[1:-1].split(",") if v.strip()}
        else:
            values = {raw.strip('"').upper()}
        if name == "project":
            actual = (event.project_key or "").upper()
        elif name in ("issuekey", "key"):
            actual = (event.issue_key or "").upper()
        elif name in ("issuetype", "status", "assignee", "reporter", "priority") or (
            name.startswith(("issue.property", "cf["))
        ):
            continue
        else:
            raise ValueError(f"The clause {m['field']} is unsupported")
        hit = actual in values
        if (op in ("=", "in")) != hit:
            return False
    return True


class WebhookDispatcher:
    """Registrations of both kinds, and the queue that delivers events to them."""

    def __init__(
        self,
        clock: SimClock,
        *,
        config: WebhookConfig | None = None,
        client_secret: Callable[[str], str | None] = lambda _client_id: None,
        faults: FaultInjector | None = None,
        jql_matcher: JqlMatcher = project_filter_matcher,
        dynamic_jql_check: Callable[[str], None] | None = None,
        authenticate_admin: AdminAuthenticator = _anyone_is_admin,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.clock = clock
        self.config = config or WebhookConfig()
        self.client_secret = client_secret
        self.faults = faults
        self.jql_matcher = jql_matcher
        self.dynamic_jql_check = dynamic_jql_check
        self.authenticate_admin = authenticate_admin
        self._transport = transport
        self._rng = random.Random(self.config.seed)  # noqa: S311 - simulation, reproducible
        self.admin_hooks: dict[int, AdminWebhook] = {}
        self.dynamic_hooks: dict[int, DynamicWebhook] = {}
        self.deliveries: list[Delivery] = []
        self._next_id = 1
        self._client: httpx.AsyncClient | None = None
        self._worker: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    # -- registration ---------------------------------------------------------------------------

    def _new_id(self) -> int:
        hook_id = self._next_id
        self._next_id += 1
        return hook_id

    def add_admin(
        self,
        *,
        name: str,
        url: str,
        events: Sequence[str],
        jql_filter: str = "",
        secret: str | None = None,
        exclude_body: bool = False,
    ) -> AdminWebhook:
        """Register an admin webhook; ``ValueError`` for bad input."""
        if not url.startswith(("http://", "https://")):
            raise ValueError("The webhook URL must be an http or https URL.")
        if not events:
            raise ValueError("At least one event is required.")
        self._check_jql(jql_filter)
        hook = AdminWebhook(
            id=self._new_id(),
            name=name or url,
            url=url,
            events=tuple(events),
            jql_filter=jql_filter,
            secret=secret or None,
            exclude_body=exclude_body,
            last_updated_ms=int(self.clock.time() * 1000),
        )
        self.admin_hooks[hook.id] = hook
        return hook

    def _check_jql(self, jql: str) -> None:
        probe = SimEvent(name="jira:issue_updated", payload={}, timestamp_ms=0)
        self.jql_matcher(jql, probe)

    def _live_dynamic(self) -> list[DynamicWebhook]:
        now = self.clock.time()
        for hook_id in [h.id for h in self.dynamic_hooks.values() if h.expires_at <= now]:
            del self.dynamic_hooks[hook_id]
        return list(self.dynamic_hooks.values())

    def _app_hooks(self, principal: Mapping[str, Any]) -> list[DynamicWebhook]:
        client, cloud = principal.get("client_id"), principal.get("cloud_id")
        return [h for h in self._live_dynamic() if h.client_id == client and h.cloud_id == cloud]

    def register_dynamic(
        self, principal: Mapping[str, Any], url: str, webhooks: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Register an app's webhooks; one result per item, ``createdWebhookId`` or ``errors``."""
        results: list[dict[str, Any]] = []
        account = str(principal.get("account_id", ""))
        mine = [h for h in self._app_hooks(principal) if h.account_id == account]
        for item in webhooks:
            errors: list[str] = []
            events = item.get("events")
            jql = item.get("jqlFilter")
            if not isinstance(events, list) or not events:
                errors.append("At least one event is required.")
            else:
                errors.extend(
                    f"The event {e} is not supported." for e in events if e not in DYNAMIC_EVENTS
                )
            if not isinstance(jql, str) or not jql.strip():
                errors.append("The JQL filter is required.")
            else:
                try:
                    if self.dynamic_jql_check is not None:
                        self.dynamic_jql_check(jql)
                    self._check_jql(jql)
                except ValueError as exc:
                    errors.append(str(exc))
            if len(mine) >= self.config.max_dynamic_per_user:
                errors.append(
                    "The limit of "
                    f"{self.config.max_dynamic_per_user} webhooks per app and user is reached."
                )
            if errors:
                results.append({"errors": errors})
                continue
            assert isinstance(events, list)
            assert isinstance(jql, str)
            hook = DynamicWebhook(
                id=self._new_id(),
                client_id=str(principal.get("client_id", "")),
                account_id=account,
                cloud_id=str(principal.get("cloud_id", "")),
                url=url,
                events=tuple(str(e) for e in events),
                jql_filter=jql,
                expires_at=self.clock.time() + self.config.dynamic_ttl_seconds,
                field_ids_filter=_str_tuple(item.get("fieldIdsFilter")),
                property_keys_filter=_str_tuple(item.get("issuePropertyKeysFilter")),
            )
            self.dynamic_hooks[hook.id] = hook
            mine.append(hook)
            results.append({"createdWebhookId": hook.id})
        return results

    # -- matching and queueing ------------------------------------------------------------------

    def on_event(self, event: SimEvent) -> None:
        """EventBus subscriber: queue a delivery for every webhook the event matches."""
        now = self.clock.time()
        for admin in self.admin_hooks.values():
            if admin.enabled and event.name in admin.events and self._matches(admin, event):
                body = {} if admin.exclude_body else event.payload
                self._queue("admin", admin.id, admin.url, event.name, body, now)
        for dyn in self._live_dynamic():
            if (
                event.name in dyn.events
                and event.name in DYNAMIC_EVENTS
                and self._matches(dyn, event)
            ):
                body = {**event.payload, "matchedWebhookIds": [dyn.id]}
                self._queue("dynamic", dyn.id, dyn.url, event.name, body, now)

    def _matches(self, hook: AdminWebhook | DynamicWebhook, event: SimEvent) -> bool:
        if isinstance(hook, DynamicWebhook):
            if hook.field_ids_filter is not None and event.name == "jira:issue_updated":
                changed = {
                    str(item.get("fieldId", item.get("field", "")))
                    for item in (event.payload.get("changelog") or {}).get("items", [])
                }
                if not changed & set(hook.field_ids_filter):
                    return False
            if hook.property_keys_filter is not None and event.name.startswith("issue_property"):
                key = (event.payload.get("property") or {}).get("key")
                if key not in hook.property_keys_filter:
                    return False
        if not hook.jql_filter.strip() or event.issue_key is None:
            # Sprint and other non-issue events are not filtered by JQL.
            return True
        try:
            return self.jql_matcher(hook.jql_filter, event)
        except ValueError:
            return False

    def _queue(
        self,
        kind: Literal["admin", "dynamic"],
        hook_id: int,
        url: str,
        name: str,
        body: Mapping[str, Any],
        now: float,
    ) -> None:
        identifier = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        self.deliveries.append(Delivery(identifier, kind, hook_id, name, url, data, next_at=now))
        self._kick()

    # -- delivery -------------------------------------------------------------------------------

    def _kick(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a sync caller): drain() or the next event starts the worker
        if self._wake is None:
            self._wake = asyncio.Event()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run_worker())
        self._wake.set()

    async def _run_worker(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            await self.run_due()
            pending = [d.next_at for d in self.deliveries if d.state == "pending"]
            wait = self.config.poll_interval_seconds
            if pending:
                wait = min(wait, max(0.0, min(pending) - self.clock.time()))
            if not pending:
                await self._wake.wait()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.01))

    async def run_due(self) -> int:
        """Attempt every delivery that is due now; returns how many attempts were made."""
        now = self.clock.time()
        due = [
            d
            for d in self.deliveries
            if d.state == "pending" and not d.in_flight and d.next_at <= now
        ]
        tasks = []
        for delivery in due:
            delivery.in_flight = True
            task = asyncio.ensure_future(self._attempt(delivery))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            tasks.append(task)
        if tasks:
            await asyncio.gather(*tasks)
        return len(tasks)

    async def drain(self) -> None:
        """Wait until nothing is due or in flight (retries scheduled later stay pending)."""
        while True:
            if self._inflight:
                await asyncio.gather(*list(self._inflight))
            if await self.run_due() == 0 and not self._inflight:
                return

    async def _attempt(self, delivery: Delivery) -> None:
        try:
            status, error = await self._post(delivery)
        finally:
            delivery.in_flight = False
        now = self.clock.time()
        delivery.attempts.append(_Attempt(now, delivery.retries, status, error))
        if status is not None and 200 <= status < 300:
            delivery.state = "delivered"
            return
        retryable = status is None or status >= 500 or status in _RETRY_STATUSES
        if not retryable or delivery.retries >= self.config.max_retries:
            delivery.state = "failed"
            return
        delivery.retries += 1
        low, high = self.config.retry_delay_seconds
        delivery.next_at = now + self._rng.uniform(low, high)

    async def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        if self.faults is not None and self.faults.webhook_delivery_fails():
            return None, "simulated delivery failure"
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Atlassian Webhook HTTP Client",
            "X-Atlassian-Webhook-Identifier": delivery.identifier,
            "X-Atlassian-Webhook-Flow": "Primary",
        }
        if delivery.retries:
            headers["X-Atlassian-Webhook-Retry"] = str(delivery.retries)
        auth = self._auth_header(delivery)
        if auth is not None:
            headers[auth[0]] = auth[1]
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport, timeout=self.config.timeout_seconds, trust_env=False
            )
        try:
            response = await self._client.post(delivery.url, content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None

    def _auth_header(self, delivery: Delivery) -> tuple[str, str] | None:
        if delivery.kind == "admin":
            admin = self.admin_hooks.get(delivery.webhook_id)
            if admin is None or not admin.secret:
                return None
            digest = hmac.new(admin.secret.encode(), delivery.body, hashlib.sha256).hexdigest()
            return "X-Hub-Signature", f"sha256={digest}"
        dyn = self.dynamic_hooks.get(delivery.webhook_id)
        secret = self.client_secret(dyn.client_id) if dyn else None
        if dyn is None or not secret:
            return None
        now = int(self.clock.time())
        claims = {
            "iss": f"jira:{dyn.cloud_id}",
            "aud": dyn.client_id,
            "sub": dyn.account_id,
            "iat": now,
            "exp": now + int(self.config.jwt_ttl_seconds),
        }
        token = jwt.encode(claims, secret, algorithm="HS256")
        return "Authorization", f"{self.config.dynamic_auth_scheme} {token}"

    async def aclose(self) -> None:
        """Stop the background task and close the HTTP client."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def reset(self) -> None:
        """Forget every registration and delivery."""
        self.admin_hooks.clear()
        self.dynamic_hooks.clear()
        self.deliveries.clear()
        self._next_id = 1

    # -- HTTP: Jira's admin REST, the dynamic API and /_sim/ ------------------------------------

    def _admin_refusal(self, request: Request) -> Response | None:
        if request.url.path.startswith("/_sim/"):
            return None  # the inspection API is open, as the rest of /_sim/
        caller = self.authenticate_admin(request)
        if caller is None:
            return _error(401, _NOT_AUTHENTICATED)
        if not caller.get("admin"):
            return _error(403, "You must be a Jira administrator to manage webhooks.")
        return None

    async def admin_create(self, request: Request) -> Response:
        """``POST /rest/webhooks/1.0/webhook`` (and ``POST /_sim/webhooks``)."""
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        body = await _json_object(request)
        if isinstance(body, Response):
            return body
        filters = body.get("filters")
        jql = body.get("jqlFilter")
        if jql is None and isinstance(filters, Mapping):
            jql = filters.get("issue-related-events-section", "")
        events = body.get("events")
        try:
            if not isinstance(body.get("url"), str) or not isinstance(events, list):
                raise ValueError("The webhook needs a url and a list of events.")
            hook = self.add_admin(
                name=str(body.get("name") or ""),
                url=str(body["url"]),
                events=[str(e) for e in events],
                jql_filter=str(jql or ""),
                secret=str(body["secret"]) if body.get("secret") else None,
                exclude_body=bool(body.get("excludeBody", False)),
            )
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse(hook.as_json(_base(request)), status_code=201)

    async def admin_list(self, request: Request) -> Response:
        """``GET /rest/webhooks/1.0/webhook``."""
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        return JSONResponse([h.as_json(_base(request)) for h in self.admin_hooks.values()])

    async def admin_get(self, request: Request) -> Response:
        """``GET /rest/webhooks/1.0/webhook/{id}``."""
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        hook = self.admin_hooks.get(request.path_params["hook_id"])
        if hook is None:
            return _error(404, "Webhook not found.")
        return JSONResponse(hook.as_json(_base(request)))

    async def admin_delete(self, request: Request) -> Response:
        """``DELETE /rest/webhooks/1.0/webhook/{id}``."""
        refusal = self._admin_refusal(request)
        if refusal is not None:
            return refusal
        if self.admin_hooks.pop(request.path_params["hook_id"], None) is None:
            return _error(404, "Webhook not found.")
        return Response(status_code=204)

    async def dynamic_register(self, request: Request) -> Response:
        """``POST /rest/api/3/webhook``."""
        principal = _app_principal(request)
        if principal is None:
            return JSONResponse(_ONLY_APPS, status_code=403)
        body = await _json_object(request)
        if isinstance(body, Response):
            return body
        url, webhooks = body.get("url"), body.get("webhooks")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return _error(400, "The url must be an http or https URL.")
        if not isinstance(webhooks, list) or not all(isinstance(w, dict) for w in webhooks):
            return _error(400, "The webhooks list is required.")
        if any(h.url != url for h in self._app_hooks(principal)):
            return _error(400, "Only a single URL per app is allowed to be registered.")
        results = self.register_dynamic(principal, url, webhooks)
        return JSONResponse({"webhookRegistrationResult": results})

    async def dynamic_list(self, request: Request) -> Response:
        """``GET /rest/api/3/webhook`` (``startAt``, ``maxResults``)."""
        principal = _app_principal(request)
        if principal is None:
            return JSONResponse(_ONLY_APPS, status_code=403)
        try:
            start = max(0, int(request.query_params.get("startAt", "0")))
            size = max(1, min(100, int(request.query_params.get("maxResults", "100"))))
        except ValueError:
            return _error(400, "startAt and maxResults must be integers.")
        hooks = sorted(self._app_hooks(principal), key=lambda h: h.id)
        page = hooks[start : start + size]
        return JSONResponse(
            {
                "isLast": start + len(page) >= len(hooks),
                "maxResults": size,
                "startAt": start,
                "total": len(hooks),
                "values": [h.as_json() for h in page],
            }
        )

    async def dynamic_delete(self, request: Request) -> Response:
        """``DELETE /rest/api/3/webhook`` with ``{"webhookIds": [...]}``."""
        principal = _app_principal(request)
        if principal is None:
            return JSONResponse(_ONLY_APPS, status_code=403)
        ids = await _webhook_ids(request)
        if isinstance(ids, Response):
            return ids
        for hook in self._app_hooks(principal):
            if hook.id in ids:
                del self.dynamic_hooks[hook.id]
        return Response(status_code=202)

    async def dynamic_refresh(self, request: Request) -> Response:
        """``PUT /rest/api/3/webhook/refresh``: 30 more days; unknown ids are ignored."""
        principal = _app_principal(request)
        if principal is None:
            return JSONResponse(_ONLY_APPS, status_code=403)
        ids = await _webhook_ids(request)
        if isinstance(ids, Response):
            return ids
        expires = self.clock.time() + self.config.dynamic_ttl_seconds
        for hook in self._app_hooks(principal):
            if hook.id in ids:
                hook.expires_at = expires
        return JSONResponse({"expirationDate": int(expires * 1000)})

    async def sim_list(self, request: Request) -> Response:
        """``GET /_sim/webhooks``: every registration of both kinds."""
        return JSONResponse(
            {
                "admin": [h.as_json(_base(request)) for h in self.admin_hooks.values()],
                "dynamic": [
                    {**h.as_json(), "clientId": h.client_id, "accountId": h.account_id}
                    for h in self._live_dynamic()
                ],
            }
        )

    async def sim_deliveries(self, request: Request) -> Response:
        """``GET /_sim/webhooks/deliveries``: every delivery and its attempts."""
        return JSONResponse([d.as_json() for d in self.deliveries])

    async def sim_drain(self, request: Request) -> Response:
        """``POST /_sim/webhooks/drain``: attempt what is due now and wait for it."""
        await self.drain()
        return JSONResponse([d.as_json() for d in self.deliveries])

    def jira_routes(self) -> list[BaseRoute]:
        """Jira's own webhook endpoints (behind the site's authentication)."""
        return [
            Route("/rest/webhooks/1.0/webhook", self.admin_list, methods=["GET"]),
            Route("/rest/webhooks/1.0/webhook", self.admin_create, methods=["POST"]),
            Route("/rest/webhooks/1.0/webhook/{hook_id:int}", self.admin_get, methods=["GET"]),
            Route(
                "/rest/webhooks/1.0/webhook/{hook_id:int}", self.admin_delete, methods=["DELETE"]
            ),
            Route("/rest/api/3/webhook", self.dynamic_list, methods=["GET"]),
            Route("/rest/api/3/webhook", self.dynamic_register, methods=["POST"]),
            Route("/rest/api/3/webhook", self.dynamic_delete, methods=["DELETE"]),
            Route("/rest/api/3/webhook/refresh", self.dynamic_refresh, methods=["PUT"]),
        ]

    def sim_routes(self) -> list[BaseRoute]:
        """The ``/_sim/webhooks`` inspection routes."""
        return [
            Route("/_sim/webhooks", self.sim_list, methods=["GET"]),
            Route("/_sim/webhooks", self.admin_create, methods=["POST"]),
            Route("/_sim/webhooks/deliveries", self.sim_deliveries, methods=["GET"]),
            Route("/_sim/webhooks/drain", self.sim_drain, methods=["POST"]),
            Route("/_sim/webhooks/{hook_id:int}", self.admin_delete, methods=["DELETE"]),
        ]


def _app_principal(request: Request) -> Mapping[str, Any] | None:
    principal = principal_from_scope(request.scope)
    if principal is None or principal.get("auth_kind") != "oauth":
        return None
    return principal


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(jira_error_body([message]), status_code=status)


async def _json_object(request: Request) -> dict[str, Any] | Response:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return _error(400, "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.")
    return body


async def _webhook_ids(request: Request) -> set[int] | Response:
    body = await _json_object(request)
    if isinstance(body, Response):
        return body
    ids = body.get("webhookIds")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        return _error(400, "webhookIds must be a list of webhook IDs.")
    return set(ids)


def _str_tuple(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return None
