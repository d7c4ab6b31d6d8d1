"""Test doubles for code built on the HTTP core: a scripted transport and the fake clock.

For every layer's tests (Jira and GitHub clients, sync, benches)::

    transport = ScriptedTransport(read_timeout(), httpx.Response(201, json={"id": "1"}))
    client = HttpClient(url, transport=transport, clock=FakeClock())
    ...
    assert transport.count == 2
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from jirabridge.http.clock import FakeClock

__all__ = ["FakeClock", "ScriptedTransport", "Step", "dropped_connection", "read_timeout"]

#: One scripted answer: a response, an exception to raise (as a failing transport would), or a
#: function of the request.
Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class ScriptedTransport(httpx.MockTransport):
    """Answers request *n* with step *n*; the last step repeats. Records every request."""

    def __init__(self, *steps: Step) -> None:
        if not steps:
            raise ValueError("a ScriptedTransport needs at least one step")
        self.steps: list[Step] = list(steps)
        #: Every request received, in order.
        self.requests: list[httpx.Request] = []
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    @property
    def count(self) -> int:
        """How many requests were received."""
        return len(self.requests)


def read_timeout() -> httpx.ReadTimeout:
    """The error httpx raises when the answer does not come in time."""
    return httpx.ReadTimeout("read timed out")


def dropped_connection() -> httpx.RemoteProtocolError:
    """The error httpx raises when the server closes the connection mid-answer."""
    return httpx.RemoteProtocolError("peer closed connection without sending complete message")
