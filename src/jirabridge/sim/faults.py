"""Fault injection in front of the simulated site: the ways real Jira fails, on purpose.

:class:`FaultMiddleware` applies a :class:`FaultConfig` to the site's API paths:

- latency: a fixed delay plus uniform jitter, before every answer;
- 429 storms: for a while every request gets 429 ``jira-burst-based`` with ``Retry-After``; a
  storm starts at random (``storm_rate`` per request) or on demand;
- 500 and 503 at given rates, answered before the site sees the request (nothing applied);
- write-applied-then-connection-dropped: a write reaches the site and is stored, then the
  client gets no answer. The middleware starts the response and raises
  :class:`ConnectionDropped`, so uvicorn closes the connection mid-answer (the client sees the
  peer close before the body) and ``httpx.ASGITransport`` hands the client the exception itself,
  an ``httpx.RemoteProtocolError``. Either way the client sees a dropped connection;
- search lag and failing webhook deliveries are not applied here: the search index and the
  webhook dispatcher ask :meth:`FaultInjector.search_lag_seconds` and
  :meth:`FaultInjector.webhook_delivery_fails`.

All randomness comes from one ``random.Random(seed)``, and every request draws the same number
of values, so a run is reproducible for a seed and a request sequence. The 2 s client timeout of
the ``faulty`` profile is the client's own setting, not something the simulator does.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import httpx

from jirabridge.sim.asgi_json import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    send_json,
)
from jirabridge.sim.clock import SimClock
from jirabridge.sim.errors import jira_error_body

__all__ = [
    "ConnectionDropped",
    "FaultConfig",
    "FaultInjector",
    "FaultMiddleware",
]

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# POSTs that only read: dropping their answer would test nothing about duplicate writes.
_READ_POSTS = ("/search/jql", "/bulkfetch", "/search/approximate-count", "/worklog/list")


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised after a write was applied so that the client never receives the answer."""


@dataclass
class FaultConfig:
    """What goes wrong and how often (rates are probabilities per request, 0..1)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_500_rate: float = 0.0
    error_503_rate: float = 0.0
    #: Share of writes that are applied, then answered by a dropped connection.
    drop_after_write_rate: float = 0.0
    #: Chance per request that a 429 storm begins; it lasts ``storm_seconds``.
    storm_rate: float = 0.0
    storm_seconds: float = 10.0
    #: (min, max) seconds the search index lags writes.
    search_lag_seconds: tuple[float, float] = (0.0, 0.0)
    #: Share of webhook delivery attempts that fail as if the receiver were down.
    webhook_failure_rate: float = 0.0
    path_prefixes: tuple[str, ...] = field(default=("/rest/",))

    def updated(self, changes: dict[str, Any]) -> FaultConfig:
        """A copy with ``changes`` applied; unknown names or bad values raise ``ValueError``."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        data = asdict(self)
        data.update(changes)
        try:
            lag = data["search_lag_seconds"]
            data["search_lag_seconds"] = (float(lag[0]), float(lag[1]))
            data["path_prefixes"] = tuple(str(p) for p in data["path_prefixes"])
            for name in ("latency_ms", "jitter_ms", "storm_seconds", *_RATES):
                data[name] = float(data[name])
        except (TypeError, IndexError, ValueError) as exc:
            raise ValueError(f"bad fault setting: {exc}") from None
        for name in _RATES:
            if not 0.0 <= data[name] <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        low, high = data["search_lag_seconds"]
        if min(data["latency_ms"], data["jitter_ms"], data["storm_seconds"], low) < 0 or high < low:
            raise ValueError("latencies, durations and lags must be >= 0 (and max >= min)")
        return FaultConfig(**data)

    def as_json(self) -> dict[str, Any]:
        """A JSON-able view (for ``/_sim/faults``)."""
        data = asdict(self)
        data["search_lag_seconds"] = list(self.search_lag_seconds)
        data["path_prefixes"] = list(self.path_prefixes)
        return data


_RATES = (
    "error_500_rate",
    "error_503_rate",
    "drop_after_write_rate",
    "storm_rate",
    "webhook_failure_rate",
)


def _seeded(seed: int) -> tuple[random.Random, random.Random, random.Random]:
    # Simulation randomness, reproducible by design: nothing secret depends on it.
    return random.Random(seed), random.Random(seed + 1), random.Random(seed + 2)  # noqa: S311


class FaultInjector:
    """The faults' state: config, the seeded RNG, the current storm and counters."""

    def __init__(
        self,
        config: FaultConfig,
        clock: SimClock,
        *,
        seed: int = 0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.clock = clock
        self.seed = seed
        self.sleep = sleep
        self._rng, self._webhook_rng, self._search_rng = _seeded(seed)
        self.storm_until = 0.0
        self.counters: dict[str, int] = {}

    def reset(self, seed: int | None = None) -> None:
        """Re-seed the RNGs, end any storm and zero the counters."""
        if seed is not None:
            self.seed = seed
        self._rng, self._webhook_rng, self._search_rng = _seeded(self.seed)
        self.storm_until = 0.0
        self.counters = {}

    def start_storm(self, seconds: float | None = None) -> None:
        """Begin a 429 storm now, for ``seconds`` (default: the configured length)."""
        length = self.config.storm_seconds if seconds is None else seconds
        self.storm_until = max(self.storm_until, self.clock.time() + length)

    def search_lag_seconds(self) -> float:
        """How far behind writes the search index is for the next write (seeded)."""
        low, high = self.config.search_lag_seconds
        return low if high <= low else self._search_rng.uniform(low, high)

    def webhook_delivery_fails(self) -> bool:
        """Whether the next webhook delivery attempt should fail (seeded)."""
        rate = self.config.webhook_failure_rate
        failed = rate > 0 and self._webhook_rng.random() < rate
        if failed:
            self._count("webhook_failures")
        return failed

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """Config, counters and the storm, for ``/_sim/faults``."""
        return {
            "seed": self.seed,
            "config": self.config.as_json(),
            "counters": dict(self.counters),
            "stormUntil": self.storm_until if self.storm_until > self.clock.time() else None,
        }


class FaultMiddleware:
    """Applies a :class:`FaultInjector` to the site's API requests."""

    def __init__(self, app: ASGIApp, faults: FaultInjector) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.faults
        cfg = faults.config
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(cfg.path_prefixes):
            await self.app(scope, receive, send)
            return
        rng = faults._rng
        # Always draw the same four numbers, so one fault's rate does not shift the others.
        u_jitter, u_storm, u_error, u_drop = rng.random(), rng.random(), rng.random(), rng.random()
        delay = (cfg.latency_ms + u_jitter * cfg.jitter_ms) / 1000.0
        if delay > 0:
            await faults.sleep(delay)
        now = faults.clock.time()
        if now >= faults.storm_until and cfg.storm_rate > 0 and u_storm < cfg.storm_rate:
            faults.start_storm()
        if now < faults.storm_until:
            faults._count("storm_429")
            wait = max(1, math.ceil(faults.storm_until - now))
            headers = [
                ("Retry-After", str(wait)),
                ("X-RateLimit-Limit", "100"),
                ("X-RateLimit-Remaining", "0"),
                ("RateLimit-Reason", "jira-burst-based"),
            ]
            await send_json(send, 429, jira_error_body(["Rate limit exceeded."]), headers)
            return
        if u_error < cfg.error_500_rate:
            faults._count("error_500")
            await send_json(send, 500, jira_error_body(["Internal server error"]))
            return
        if u_error < cfg.error_500_rate + cfg.error_503_rate:
            faults._count("error_503")
            body = jira_error_body(["Service unavailable, please try again later."])
            await send_json(send, 503, body, [("Retry-After", "1")])
            return
        method: str = scope["method"]
        if (
            method in _WRITE_METHODS
            and not path.endswith(_READ_POSTS)
            and u_drop < cfg.drop_after_write_rate
        ):
            await self._apply_then_drop(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _apply_then_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await self.app(scope, receive, capture)
        self.faults._count("dropped_after_write")
        start = next((m for m in captured if m["type"] == "http.response.start"), None)
        if start is not None:
            # The head goes out, the body never does: the client is left waiting on a closed
            # connection, as when a proxy or the network drops Jira's answer.
            await send(start)
        raise ConnectionDropped("the simulator dropped the connection after applying the write")
