"""A MockTransport handler that plays a script of responses and failures, and records requests."""

from __future__ import annotations

from collections.abc import Callable

import httpx

Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers request *n* with step *n* (the last step repeats). An exception step is raised
    (as a transport would); a callable step is called with the request."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    @property
    def count(self) -> int:
        return len(self.requests)


def timeout() -> httpx.ReadTimeout:
    return httpx.ReadTimeout("read timed out")


def dropped() -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError("peer closed connection without sending complete message")
