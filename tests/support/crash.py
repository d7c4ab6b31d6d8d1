"""Killing a worker at the worst moment: right after the server applied a write, before the
process has heard the answer (for crash-and-resume tests run as subprocesses)."""

from __future__ import annotations

import os
import signal

import httpx

__all__ = ["KillAfterAnswered"]


class KillAfterAnswered(httpx.AsyncBaseTransport):
    """Passes requests on over real HTTP; SIGKILLs this process once the ``kill_after``-th
    ``method`` request to a path ending in ``path_suffix`` has been answered (``None``: never).
    """

    def __init__(self, method: str, path_suffix: str, kill_after: int | None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.method = method
        self.path_suffix = path_suffix
        self.kill_after = kill_after
        self.answered = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == self.method and request.url.path.endswith(self.path_suffix):
            self.answered += 1
            if self.kill_after is not None and self.answered >= self.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
