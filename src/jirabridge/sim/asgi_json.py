"""Small helpers for the simulator's pure-ASGI middlewares: send a JSON answer, read a body."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

__all__ = [
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "read_body",
    "send_json",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(
    send: Send,
    status: int,
    body: Any,
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    """Answer with ``body`` as JSON and the given extra headers."""
    data = json.dumps(body, separators=(",", ":")).encode()
    raw_headers = [
        (b"content-type", b"application/json;charset=UTF-8"),
        (b"content-length", str(len(data)).encode()),
    ]
    raw_headers.extend((k.lower().encode(), v.encode()) for k, v in headers)
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": data})


async def read_body(receive: Receive) -> bytes:
    """Read a whole request body from ``receive``."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
