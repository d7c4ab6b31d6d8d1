"""One site's request pipeline.

Every attempt goes: circuit breaker check -> rate governor acquire -> send -> governor observes
the headers -> breaker records the outcome -> the retry policy decides -> wait on the clock and go
again, or return the response, or raise from :mod:`jirabridge.errors`. Non-idempotent writes go
through :meth:`HttpClient.write_once`, which asks the caller's ``reconcile`` before repeating.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import httpx

from jirabridge.errors import (
    ApiError,
    ConnectionFailedError,
    RateLimitedError,
    ServerError,
    TimeoutError_,
    TransportError,
    api_error_for_status,
)
from jirabridge.http.breaker import CircuitBreaker
from jirabridge.http.clock import Clock, SystemClock
from jirabridge.http.governor import GovernorLimits, RateGovernor
from jirabridge.http.governor_store import GovernorStore
from jirabridge.http.headers import RateLimitInfo, parse_rate_limit_headers
from jirabridge.http.retry import IDEMPOTENT_METHODS, Outcome, RequestFacts, RetryPolicy
from jirabridge.http.sites import site_key

__all__ = ["DEFAULT_TIMEOUT", "HttpClient", "HttpStats", "Reconcile", "safe_url"]

T = TypeVar("T")

logger = logging.getLogger("jirabridge.http")

#: Looks for the effect of a write whose answer was lost; returns it, or None when absent.
Reconcile = Callable[[], Awaitable[T | None]]

# Failures after which a write may or may not have been applied.
_Ambiguous = TimeoutError_ | ConnectionFailedError | ServerError

#: Connect 5 s, read/write/pool 30 s.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

# Query parameters whose values never reach a log line or an exception message.
_SECRET_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "client_secret",
        "code",
        "jwt",
        "key",
        "password",
        "refresh_token",
        "secret",
        "sig",
        "signature",
        "state",
        "token",
    }
)


def safe_url(url: httpx.URL | str) -> str:
    """``url`` without user info and with secret-looking query values replaced by ``***``."""
    parsed = httpx.URL(url)
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    if parsed.query:
        params = [
            (k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in parsed.params.multi_items()
        ]
        parsed = parsed.copy_with(params=params)
    return str(parsed)


@dataclass
class HttpStats:
    """Counters a client keeps, for benches, logs and health pages."""

    #: Calls to :meth:`HttpClient.request`.
    requests: int = 0
    #: Requests actually sent (first tries and retries).
    attempts: int = 0
    retries: int = 0
    #: Times ``reconcile`` was asked after an ambiguous write failure ...
    reconciles: int = 0
    #: ... and found the write had been applied.
    reconciled: int = 0
    #: Writes repeated because ``reconcile`` found nothing.
    rewrites: int = 0
    circuit_rejections: int = 0
    #: Seconds spent waiting for the governor and between retries.
    waited: float = 0.0
    #: Responses by status code.
    statuses: Counter[int] = field(default_factory=Counter)


def _rate_limited(status: int, info: RateLimitInfo) -> bool:
    # GitHub signals both its primary and secondary limits with 403 as well as 429.
    return status == 429 or (
        status == 403 and (info.retry_after is not None or info.remaining == 0)
    )


def _error_body(response: httpx.Response) -> tuple[list[str], dict[str, str]]:
    """Messages and field errors of Jira's ``{"errorMessages": [...], "errors": {...}}`` body,
    or of GitHub's ``{"message": ..., "errors": [...]}``."""
    try:
        body = response.json()
    except ValueError:
        return [], {}
    if not isinstance(body, dict):
        return [], {}
    messages = [str(m) for m in body.get("errorMessages") or [] if m]
    fields: dict[str, str] = {}
    errors = body.get("errors")
    if isinstance(errors, dict):
        fields = {str(k): str(v) for k, v in errors.items()}
    elif isinstance(errors, list):  # GitHub: [{"resource", "field", "code"}]
        for item in errors:
            if isinstance(item, dict) and "field" in item:
                fields[str(item["field"])] = str(item.get("message") or item.get("code", ""))
    if isinstance(body.get("message"), str):
        messages.insert(0, body["message"])
    return messages, fields


class HttpClient:
    """Sends requests to one site (one base URL) with auth, pacing, retries and a breaker.

    One connection pool per client (or pass ``client=`` to share an ``httpx.AsyncClient``; it is
    then not closed by :meth:`aclose`). ``site`` names the rate budget and breaker (default: host
    and path of ``base_url``). Without ``governor=``, a governor with ``limits`` (default
    :meth:`GovernorLimits.unlimited`: follow the server's headers only) is built on
    ``governor_store``; the Jira client should pass ``limits=GovernorLimits.jira_cloud()`` for
    Cloud sites. Clients given the same store (in memory, Redis or PostgreSQL) and the same site
    share one rate budget, whether they live in one process or many.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        client: httpx.AsyncClient | None = None,
        site: str | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        governor: RateGovernor | None = None,
        limits: GovernorLimits | None = None,
        governor_store: GovernorStore | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an absolute http(s) URL")
        if client is not None and transport is not None:
            raise ValueError("pass the transport to the injected client, not to HttpClient")
        self.base_url = base_url.rstrip("/")
        self.site = site or site_key(self.base_url)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.retry = retry if retry is not None else RetryPolicy()
        self.governor = governor or RateGovernor(
            self.site,
            limits=limits or GovernorLimits.unlimited(),
            store=governor_store,
            clock=self.clock,
        )
        self.breaker = breaker or CircuitBreaker(self.site, clock=self.clock)
        self.stats = HttpStats()
        self._auth = auth
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            auth=auth,
            transport=transport,
            headers=dict(headers or {}),
            timeout=timeout or DEFAULT_TIMEOUT,
        )
        # With a shared pool, our headers and timeout go on each request instead of the pool.
        self._extra_headers = dict(headers or {}) if client is not None else {}
        self._request_timeout = timeout if client is not None else None

    def __repr__(self) -> str:
        return f"HttpClient(base_url={safe_url(self.base_url)!r})"

    def _url(self, url: str) -> httpx.URL:
        if url.startswith(("http://", "https://")):
            return httpx.URL(url)
        return httpx.URL(self.base_url + "/" + url.lstrip("/"))

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        issue_key: str | None = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        timeout: httpx.Timeout | None = None,  # noqa: ASYNC109 - httpx's per-request timeouts
        raise_for_status: bool = True,
        retry: RetryPolicy | None = None,
    ) -> httpx.Response:
        """Send one request and return a 2xx/3xx response; raise an ``ApiError`` otherwise.

        ``idempotent`` defaults from the method (GET, HEAD, PUT, DELETE, OPTIONS are); only
        idempotent requests are retried on 5xx, timeouts and connection errors. A 429 is retried
        for any method (nothing was applied). ``issue_key`` lets the governor space writes to one
        issue as Jira's per-issue write limit demands. With ``raise_for_status=False`` an error
        response is returned (after any retries) instead of raised; transport errors still raise.
        ``retry`` replaces the client's policy for this request (a probe that must answer
        quickly passes one without retries).
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        full_url = self._url(url)
        if params:
            full_url = full_url.copy_merge_params(dict(params))
        shown = safe_url(full_url)
        path = full_url.path
        facts = RequestFacts(method, idempotent)
        merged_headers = {**self._extra_headers, **(headers or {})}
        request_kwargs: dict[str, Any] = {
            "json": json,
            "content": content,
            "data": data,
            "files": files,
            "headers": merged_headers or None,
        }
        if timeout is not None or self._request_timeout is not None:
            request_kwargs["timeout"] = timeout or self._request_timeout
        if not self._owns_client and self._auth is not None:
            request_kwargs["auth"] = self._auth
        policy = retry or self.retry
        self.stats.requests += 1
        started = self.clock.monotonic()
        attempt = 0
        while True:
            attempt += 1
            response, outcome, failure = await self._attempt(
                method, full_url, path, issue_key, request_kwargs
            )
            if response is not None and response.status_code < 400:
                return response
            decision = policy.decide(facts, outcome, attempt, self.clock.monotonic() - started)
            if not decision.retry:
                details = {"attempts": attempt, "gave_up_because": decision.reason}
                if response is not None:
                    if not raise_for_status:
                        return response
                    raise self._api_error(response, method, shown, details)
                raise self._transport_error(failure, method, shown, details)
            self.stats.retries += 1
            logger.warning(
                "retrying %s %s in %.1fs (attempt %d failed: %s)",
                method,
                shown,
                decision.wait,
                attempt,
                decision.reason,
            )
            if response is not None:
                await response.aclose()
            self.stats.waited += decision.wait
            await self.clock.sleep(decision.wait)

    async def _attempt(
        self,
        method: str,
        url: httpx.URL,
        path: str,
        issue_key: str | None,
        kwargs: dict[str, Any],
    ) -> tuple[httpx.Response | None, Outcome, BaseException | None]:
        try:
            probe = self.breaker.before_request()
        except TransportError:
            self.stats.circuit_rejections += 1
            raise
        settled = False
        try:
            self.stats.waited += await self.governor.acquire(method, path, issue_key=issue_key)
            self.stats.attempts += 1
            try:
                response = await self._client.request(method, url, **kwargs)
            except httpx.TimeoutException as exc:
                self.breaker.record_failure()
                settled = True
                return None, Outcome.timeout(), exc
            except httpx.TransportError as exc:
                self.breaker.record_failure()
                settled = True
                return None, Outcome.connection_error(), exc
            status = response.status_code
            self.stats.statuses[status] += 1
            if status >= 500:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()
            settled = True
            await self.governor.observe(method, path, status, response.headers, issue_key=issue_key)
            info = parse_rate_limit_headers(response.headers, self.clock.time())
            limited = _rate_limited(status, info)
            return response, Outcome.response(status, info.retry_after, rate_limited=limited), None
        finally:
            if not settled:
                self.breaker.release(probe)

    def _api_error(
        self, response: httpx.Response, method: str, shown: str, details: dict[str, Any]
    ) -> ApiError:
        status = response.status_code
        messages, fields = _error_body(response)
        summary = f"{method} {shown} answered {status}"
        if messages:
            summary += ": " + "; ".join(messages[:3])
        info = parse_rate_limit_headers(response.headers, self.clock.time())
        if _rate_limited(status, info):
            return RateLimitedError(
                summary,
                status=status,
                method=method,
                url=shown,
                retry_after=info.retry_after,
                reason=info.reason,
                error_messages=messages,
                details=details,
            )
        cls = api_error_for_status(status)
        return cls(
            summary,
            status=status,
            method=method,
            url=shown,
            error_messages=messages,
            field_errors=fields,
            details=details,
        )

    @staticmethod
    def _transport_error(
        failure: BaseException | None, method: str, shown: str, details: dict[str, Any]
    ) -> TransportError:
        if isinstance(failure, httpx.TimeoutException):
            error: TransportError = TimeoutError_(
                f"{method} {shown} timed out ({type(failure).__name__})",
                method=method,
                url=shown,
                details=details,
            )
        else:
            error = ConnectionFailedError(
                f"{method} {shown} failed: {type(failure).__name__}",
                method=method,
                url=shown,
                details=details,
            )
        error.__cause__ = failure
        return error

    async def write_once(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        parse: Callable[[httpx.Response], T],
        reconcile: Reconcile[T],
        issue_key: str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
    ) -> T:
        """Apply a non-idempotent write exactly once.

        After an ambiguous failure (no answer, or a 5xx other than 501, which may have been
        applied) ``reconcile`` is asked whether the write happened; its result is returned if so,
        and the write is only repeated when it says the write did not happen, within the retry
        policy's limits. A 429 is retried inside :meth:`request` (nothing was applied); other
        4xx and :class:`~jirabridge.errors.CircuitOpenError` (nothing was sent) raise at once.
        """
        started = self.clock.monotonic()
        rewrites = 0
        while True:
            try:
                response = await self.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=headers,
                    content=content,
                    data=data,
                    files=files,
                    idempotent=False,
                    issue_key=issue_key,
                )
            except (TimeoutError_, ConnectionFailedError, ServerError) as exc:
                if isinstance(exc, ServerError) and exc.status == 501:
                    raise
                failure: _Ambiguous = exc
            else:
                return parse(response)
            found = await self._reconcile(reconcile, started)
            if found is not None:
                self.stats.reconciled += 1
                logger.info("%s %s: reconcile found the write applied", method, failure.url)
                return found
            rewrites += 1
            wait = self.retry.backoff(rewrites)
            if (
                rewrites > self.retry.max_retries
                or self.clock.monotonic() - started + wait > self.retry.max_elapsed
            ):
                raise failure
            self.stats.rewrites += 1
            logger.warning(
                "repeating %s %s in %.1fs: reconcile found it was not applied (%s)",
                method,
                failure.url,
                wait,
                type(failure).__name__,
            )
            self.stats.waited += wait
            await self.clock.sleep(wait)

    async def _reconcile(self, reconcile: Reconcile[T], started: float) -> T | None:
        """Ask ``reconcile`` until it answers; a failed look-up leaves the outcome unknown.

        A reconcile read can itself time out or meet a 5xx. Treating that as "not applied" would
        re-send a write that may have landed, so the look-up is repeated with backoff instead,
        and its error is raised when the retry budget runs out (the write stays unconfirmed
        for the caller's ledger to reconcile later).
        """
        attempts = 0
        while True:
            self.stats.reconciles += 1
            try:
                return await reconcile()
            except (TimeoutError_, ConnectionFailedError, ServerError):
                attempts += 1
                wait = self.retry.backoff(attempts)
                if (
                    attempts > self.retry.max_retries
                    or self.clock.monotonic() - started + wait > self.retry.max_elapsed
                ):
                    raise
                logger.warning("reconcile look-up failed; looking again in %.1fs", wait)
                self.stats.waited += wait
                await self.clock.sleep(wait)

    async def aclose(self) -> None:
        """Close the connection pool (unless it was passed in)."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
