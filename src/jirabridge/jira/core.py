"""What every Jira operation shares: the HTTP pipeline, the REST version, paths and paging.

The operation groups (issues, search, worklogs, agile...) are mixins over :class:`JiraCore`, so
each lives in its own module while :class:`~jirabridge.jira.client.JiraClient` offers them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from jirabridge.errors import ApiError, ValidationError
from jirabridge.http import HttpClient, RetryPolicy
from jirabridge.jira.models import DeploymentType, ServerInfo

__all__ = [
    "AGILE",
    "EXTERNAL_ID_PROPERTY",
    "PROBE_RETRY",
    "PROBE_TIMEOUT",
    "JiraCore",
    "Sleep",
    "clean_params",
    "comma_list",
    "path_part",
    "text_body",
]

#: Base path of the Agile (Jira Software) REST API; the same on Cloud and Data Center.
AGILE = "/rest/agile/1.0"

#: The issue/worklog property that carries our external id, stamped in the create request.
EXTERNAL_ID_PROPERTY = "jirabridge.external-id"

#: The connection test's first request: asked once, never retried (a verdict within seconds).
PROBE_RETRY = RetryPolicy(max_retries=0)
#: ...and given little time to connect: a site that cannot be reached in 3 s is "unreachable".
PROBE_TIMEOUT = httpx.Timeout(10.0, connect=3.0)

#: ``asyncio.sleep`` or a test stand-in; every wait the client makes goes through it.
Sleep = Callable[[float], Awaitable[None]]


def path_part(value: str | int) -> str:
    """Quote one path segment (an issue key, a property key...) so it cannot escape the path."""
    text = str(value)
    if text in ("", ".", ".."):
        raise ValidationError(f"{text!r} is not an identifier that can go into a Jira URL")
    return quote(text, safe="")


def comma_list(values: Iterable[str] | str | None) -> str | None:
    """Jira's comma-separated list parameter (``fields=summary,status``)."""
    if values is None:
        return None
    if isinstance(values, str):
        return values
    return ",".join(values)


def text_body(text: str | dict[str, Any], *, api_version: int) -> str | dict[str, Any]:
    """A rich-text body for ``api_version``: ADF (plain paragraphs) on v3, the string on v2.

    A dict is taken to be ADF already and passed through. Markdown conversion belongs to
    :mod:`jirabridge.jira.adf`; this only keeps plain text plain.
    """
    if isinstance(text, dict):
        return text
    if api_version < 3:
        return text
    paragraphs: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        content: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


class JiraCore:
    """The state and helpers every operation mixin relies on."""

    def __init__(
        self,
        http: HttpClient,
        *,
        api_version: int | None = None,
        deployment: DeploymentType | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if api_version not in (None, 2, 3):
            raise ValidationError(f"Jira REST API version must be 2 or 3, not {api_version!r}")
        self._http = http
        self._deployment = deployment
        self._api_version = api_version
        self._server_info: ServerInfo | None = None
        self._detect_lock = asyncio.Lock()
        self._sleep = sleep

    @property
    def http(self) -> HttpClient:
        """The underlying HTTP pipeline (shared pacing, retries, breaker)."""
        return self._http

    async def deployment(self) -> DeploymentType:
        """Cloud or Server/Data Center; asks ``serverInfo`` once when not told."""
        if self._deployment is None:
            await self._detect()
        assert self._deployment is not None
        return self._deployment

    async def is_cloud(self) -> bool:
        """True when talking to Jira Cloud."""
        return await self.deployment() == DeploymentType.CLOUD

    async def api_version(self) -> int:
        """The platform REST version in use: 3 on Cloud, 2 on Server/DC, unless overridden."""
        if self._api_version is None:
            self._api_version = 3 if await self.is_cloud() else 2
        return self._api_version

    async def _detect(self) -> None:
        async with self._detect_lock:
            if self._deployment is not None:
                return
            await self._fetch_server_info()

    async def _fetch_server_info(self, *, probe: bool = False) -> ServerInfo:
        # v2 answers on every deployment, so it is the safe probe before the version is known.
        # As a connection test (``probe``) it is asked once with a short connect timeout: a
        # person waits for the verdict, and "unreachable" after ~30 s of backoff helps nobody.
        response = await self._http.request(
            "GET",
            "/rest/api/2/serverInfo",
            retry=PROBE_RETRY if probe else None,
            timeout=PROBE_TIMEOUT if probe else None,
        )
        info = ServerInfo.model_validate(_json(response))
        self._server_info = info
        if self._deployment is None:
            # Only Cloud says "Cloud"; old servers send no deploymentType at all.
            try:
                self._deployment = DeploymentType(info.deployment_type or "Server")
            except ValueError:
                self._deployment = DeploymentType.SERVER
        return info

    async def _api(self, path: str) -> str:
        return f"/rest/api/{await self.api_version()}/{path.lstrip('/')}"

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return _json(await self._http.request("GET", path, params=clean_params(params)))

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        issue_key: str | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        response = await self._http.request(
            method,
            path,
            params=clean_params(params),
            json=json,
            idempotent=idempotent,
            issue_key=issue_key,
        )
        return _json_or_none(response)

    async def _offset_pages(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        items_key: str | tuple[str, ...] = "values",
        page_size: int = 50,
        method: str = "GET",
        body: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield items of a ``startAt``/``maxResults`` paged list, one page in memory at a time.

        Stops on ``isLast``, on reaching ``total``, or on a short or empty page, whichever
        the endpoint reports (Jira's paged resources disagree on which they send). A tuple of
        ``items_key`` names takes the first one the page has.
        """
        start = 0
        while True:
            if method == "GET":
                page = await self._get(
                    path, {**(params or {}), "startAt": start, "maxResults": page_size}
                )
            else:
                page = await self._send(
                    method,
                    path,
                    params=params,
                    json={**(body or {}), "startAt": start, "maxResults": page_size},
                    idempotent=True,
                )
            if not isinstance(page, dict):
                return
            keys = (items_key,) if isinstance(items_key, str) else items_key
            items: list[Any] = next((page[k] for k in keys if isinstance(page.get(k), list)), [])
            for item in items:
                yield item
            start += len(items)
            if not items or page.get("isLast") is True:
                return
            total = page.get("total")
            if isinstance(total, int) and start >= total:
                return
            if "isLast" not in page and total is None and len(items) < page_size:
                return


def clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop None values and write booleans as Jira's ``true``/``false``."""
    if params is None:
        return None
    cleaned: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        # httpx writes True as "true" already; be explicit so the spec's boolean matches.
        cleaned[name] = ("true" if value else "false") if isinstance(value, bool) else value
    return cleaned


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ApiError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code} with a body that is not JSON",
            status=response.status_code,
            method=response.request.method,
            url=str(response.request.url.copy_with(query=None)),
        ) from exc


def _json_or_none(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    return _json(response)
