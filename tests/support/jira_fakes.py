"""Test doubles for the Jira client tests: a scripted fake Jira that validates every request
against the spec, spec examples, and a recording sleep."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from jirabridge.sim.spec import spec_document

from support.jira_spec_validation import validate_request

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Sent:
    """One request as the fake received it."""

    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: httpx.Headers
    raw_path: bytes = b""


@dataclass
class FakeJira:
    """Answers scripted routes; records and spec-validates every request."""

    validate: bool = True
    routes: list[tuple[str, re.Pattern[str], list[Handler | Any]]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Handler | Any) -> None:
        """Answer ``method path`` (a regex over the path) with each answer in turn; the last
        repeats. An answer is a handler, an ``httpx.Response``, or a JSON body for a 200."""
        self.routes.append((method, re.compile(path + "$"), list(answers)))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.sent.append(
            Sent(
                request.method,
                request.url.path,
                dict(request.url.params),
                body,
                request.headers,
                request.url.raw_path,
            )
        )
        if self.validate:
            validate_request(request)
        for method, pattern, answers in self.routes:
            if method == request.method and pattern.match(request.url.path):
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if callable(answer) and not isinstance(answer, httpx.Response):
                    result = answer(request)
                    return result
                if isinstance(answer, httpx.Response):
                    return answer
                return httpx.Response(200, json=answer)
        return httpx.Response(404, json={"errorMessages": [f"no route for {request.url.path}"]})

    @property
    def last(self) -> Sent:
        return self.sent[-1]


def spec_example(path: str, method: str, status: str, *, software: bool = False) -> Any:
    """The example response body Atlassian's spec gives for an operation, parsed."""
    operation = spec_document("software" if software else "platform")["paths"][path][method.lower()]
    content = operation["responses"][status]["content"]["application/json"]
    example = content["example"]
    return json.loads(example) if isinstance(example, str) else example


class NoSleep:
    """Records the waits asked for instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
