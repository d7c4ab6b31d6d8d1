"""The demo's time records: a week of work for the demo admin, ready to sync.

Most records are linked to open issues of the simulator; one mentions an issue key only in its
notes (the picker suggests it), one is on a closed issue (its sync fails with a clear error,
to show the history and retry), one is not linked yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from jirabridge.cli.accounts_common import accounts_context, user_by_email
from jirabridge.service.settings import Settings
from jirabridge.service.worklogs import RecordInput, WorklogService
from jirabridge.store.time_records import RecordFilter

__all__ = ["seed_demo_time_records"]


async def seed_demo_time_records(
    settings: Settings,
    *,
    email: str,
    open_keys: Sequence[str],
    closed_key: str | None,
    now: datetime | None = None,
) -> int:
    """Add the demo records unless the user has records already; how many were added."""
    if len(open_keys) < 3:
        return 0
    monday = ((now or datetime.now(UTC)) - timedelta(days=7)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    async with accounts_context(settings) as ctx:
        user = await user_by_email(ctx, email)
        service = WorklogService.from_settings(settings, ctx.sessions, ctx.clients)
        _, total = await service.list_records(user.id, RecordFilter(include_deleted=True))
        if total:
            return 0
        plan: list[tuple[int, int, str | None, str]] = [
            (0, 90, open_keys[0], "Sprint planning"),
            (0, 150, open_keys[1], "Implementation"),
            (1, 45, open_keys[2], "Code review"),
            (1, 120, None, f"Pairing on {open_keys[0]} follow-ups"),
            (2, 30, closed_key, "Late fix on a closed issue"),
            (3, 60, None, "Team meeting"),
        ]
        for day, minutes, key, notes in plan:
            await service.create_record(
                user.id,
                RecordInput(
                    started_at=monday + timedelta(days=day, hours=day % 3),
                    duration_seconds=minutes * 60,
                    time_zone="Europe/Berlin",
                    notes=notes,
                    issue_key=key,
                ),
            )
        return len(plan)
