"""A delivery worker run as a child process by test_load_and_loss.py, to be killed mid-batch.

Usage: python kill_worker.py <database-url> <link-id> <stall-after>

Every delivery bumps the version of one status link (the observable effect). After
``stall-after`` deliveries the handler prints ``STALLED`` and hangs inside its transaction,
holding its lease, so the parent can SIGKILL it at a known point mid-processing.
"""

from __future__ import annotations

import asyncio
import sys

from jirabridge.service.webhook_worker import DeliveryWorker
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.webhook_models import StatusLinkRow
from jirabridge.sync.dispatch import DeliveryContext, HandlerRegistry


async def main(url: str, link_id: str, stall_after: int) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    handled = 0

    async def bump(context: DeliveryContext) -> None:
        nonlocal handled
        row = await context.session.get(StatusLinkRow, link_id)
        assert row is not None
        row.version += 1
        await context.session.flush()
        handled += 1
        if handled > stall_after:
            print("STALLED", flush=True)
            await asyncio.sleep(3600)

    registry = HandlerRegistry()
    registry.register("*", bump)
    worker = DeliveryWorker(sessions, registry, worker_id="doomed", batch_size=20)
    await worker.drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
