"""The delivery worker: lease due deliveries, run their handlers, finish or retry each one.

Exactly-once: a delivery is marked done in the same transaction as its handlers' effects, and
only while this worker holds its lease. A worker killed mid-batch leaves its leased rows
pending; they become due when the lease runs out and another worker processes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import JirabridgeError
from jirabridge.store.webhook_models import DeliveryStatus, WebhookEndpointRow
from jirabridge.store.webhooks import claim_due, fail_delivery, finish_delivery
from jirabridge.sync.dispatch import HandlerRegistry

__all__ = ["DEFAULT_BACKOFF", "BatchReport", "DeliveryWorker"]

log = logging.getLogger(__name__)

#: Waits between attempts: five retries over about an hour, then the dead-letter list.
DEFAULT_BACKOFF: tuple[timedelta, ...] = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=45),
)


@dataclass
class BatchReport:
    """What one :meth:`DeliveryWorker.run_once` did."""

    done: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)

    @property
    def handled(self) -> int:
        """How many deliveries this batch touched."""
        return len(self.done) + len(self.retrying) + len(self.dead) + len(self.lost)


def _describe(error: BaseException) -> str:
    if isinstance(error, JirabridgeError):
        return f"{type(error).__name__}: {error.message}"
    return f"{type(error).__name__}: {error}"


class DeliveryWorker:
    """Processes stored deliveries through a :class:`HandlerRegistry`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: HandlerRegistry,
        *,
        clock: Callable[[], float] = time.time,
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=2),
        backoff: Sequence[timedelta] = DEFAULT_BACKOFF,
        batch_size: int = 50,
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._clock = clock
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self._lease = lease
        self._backoff = tuple(backoff)
        self._batch_size = batch_size

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def run_once(self) -> BatchReport:
        """Lease one batch of due deliveries and process each; returns what happened."""
        report = BatchReport()
        async with self._sessions() as session:
            claimed = await claim_due(
                session,
                worker=self.worker_id,
                now=self._now(),
                lease=self._lease,
                limit=self._batch_size,
            )
            await session.commit()
        for delivery_pk in claimed:
            await self._process(delivery_pk, report)
        return report

    async def drain(self, *, max_batches: int = 1000) -> BatchReport:
        """Run batches until nothing is due (tests and the CLI's ``process`` command)."""
        total = BatchReport()
        for _ in range(max_batches):
            report = await self.run_once()
            if not report.handled:
                break
            for name in ("done", "retrying", "dead", "lost"):
                getattr(total, name).extend(getattr(report, name))
        return total

    async def run_forever(self, stop: asyncio.Event, *, idle_wait: float = 0.5) -> None:
        """Process until ``stop`` is set, waiting ``idle_wait`` seconds when nothing is due."""
        while not stop.is_set():
            try:
                report = await self.run_once()
            except JirabridgeError as exc:
                log.warning("webhook worker batch failed: %s", exc.message)
                report = BatchReport()
            if report.handled:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=idle_wait)

    async def _process(self, delivery_pk: int, report: BatchReport) -> None:
        try:
            async with self._sessions() as session:
                finished = await finish_delivery(
                    session, delivery_pk, worker=self.worker_id, now=self._now()
                )
                if finished is None:
                    report.lost.append(delivery_pk)
                    await session.rollback()
                    return
                endpoint = await session.get(WebhookEndpointRow, finished.endpoint_id)
                assert endpoint is not None  # the foreign key cascades deletes
                await self._registry.dispatch(session, endpoint, finished, self._now())
                await session.commit()
            report.done.append(delivery_pk)
        except Exception as exc:  # any handler failure means retry, not crash
            log.warning("webhook delivery %s failed: %s", delivery_pk, _describe(exc))
            await self._record_failure(delivery_pk, exc, report)

    async def _record_failure(
        self, delivery_pk: int, error: BaseException, report: BatchReport
    ) -> None:
        async with self._sessions() as session:
            status = await fail_delivery(
                session,
                delivery_pk,
                worker=self.worker_id,
                now=self._now(),
                error=_describe(error),
                backoff=self._backoff,
            )
            await session.commit()
        if status is None:
            report.lost.append(delivery_pk)
        elif status == DeliveryStatus.DEAD:
            report.dead.append(delivery_pk)
        else:
            report.retrying.append(delivery_pk)
