"""One site's request pipeline.

INTERIM VERSION (skeleton): sends requests and maps error statuses onto the exception tree, with
no retries, governor or breaker yet. The public signatures below are the contract the Jira and
GitHub clients are written against; the HTTP-core work fills in the behaviour behind them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from jirabridge.errors import ConnectionFailedError, TimeoutError_, api_error_for_status

__all__ = ["HttpClient", "Reconcile"]

T = TypeVar("T")

#: Looks for the effect of a write whose answer was lost; returns it, or None when absent.
Reconcile = Callable[[], Awaitable[T | None]]


class HttpClient:
    """Sends requests to one site (one base URL) with auth, pacing, retries and a breaker."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            transport=transport,
            headers=dict(headers or {}),
            timeout=timeout or httpx.Timeout(30.0, connect=5.0),
        )

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
    ) -> httpx.Response:
        """Send one request and return a 2xx/3xx response; raise an ``ApiError`` otherwise.

        ``idempotent`` defaults from the method (GET, HEAD, PUT, DELETE, OPTIONS are); only
        idempotent requests are retried blindly. ``issue_key`` lets the governor space writes
        to one issue as Jira's per-issue write limit demands.
        """
        try:
            response = await self._client.request(
                method, url, params=params, json=json, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise TimeoutError_(f"{method} {url} timed out", method=method, url=url) from exc
        except httpx.TransportError as exc:
            raise ConnectionFailedError(
                f"{method} {url} failed: {type(exc).__name__}", method=method, url=url
            ) from exc
        if response.status_code >= 400:
            cls = api_error_for_status(response.status_code)
            raise cls(
                f"{method} {url} answered {response.status_code}",
                status=response.status_code,
                method=method,
                url=url,
            )
        return response

    async def write_once(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        parse: Callable[[httpx.Response], T],
        reconcile: Reconcile[T],
        issue_key: str | None = None,
    ) -> T:
        """Apply a non-idempotent write exactly once.

        After an ambiguous failure (no answer, or a 5xx that may have been applied) ``reconcile``
        is asked whether the write happened; its result is returned if so, and the write is only
        repeated when it says the write did not happen.
        """
        response = await self.request(method, url, json=json, idempotent=False, issue_key=issue_key)
        return parse(response)

    async def aclose(self) -> None:
        """Close the connection pool."""
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
