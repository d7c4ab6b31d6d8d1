"""Events the simulated site emits on every change; webhooks and the event log subscribe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EventBus", "SimEvent"]


@dataclass(frozen=True)
class SimEvent:
    """One change, named as Jira's webhook event (``jira:issue_created``, ``worklog_updated``...).

    ``payload`` is the webhook body Jira would send for it (same shape as the real fixtures);
    ``project_key`` and ``issue_key`` let subscribers filter without parsing the payload.
    """

    name: str
    payload: dict[str, Any]
    timestamp_ms: int
    project_key: str | None = None
    issue_key: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[SimEvent], None]


class EventBus:
    """Synchronous fan-out; subscribers must not block (delivery is queued by the subscriber)."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` for every event published from now on."""
        self._subscribers.append(subscriber)

    def publish(self, event: SimEvent) -> None:
        """Hand ``event`` to every subscriber, in subscription order."""
        for subscriber in self._subscribers:
            subscriber(event)
