"""The demo's GitHub-and-Jira data: PR and commit links, a Smart Commit result, a finished
backfill and a triage log entry for the demo admin, so the ``/github`` page has content; and a
GitHub connection with its finished backfill run, so ``/github/connections`` and
``/github/backfill/<run>`` have content. The demo runs offline: the connection's token is a
placeholder (its Test button says GitHub refused it), and nothing here calls GitHub."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from jirabridge.cli.accounts_common import accounts_context, user_by_email
from jirabridge.service.github import build_github_service
from jirabridge.service.settings import Settings
from jirabridge.store.db import write_transaction
from jirabridge.store.devlink_models import BackfillRunRow
from jirabridge.store.devlinks import DevLinkStore, StoredCursor, StoredLink
from jirabridge.store.models import utcnow

__all__ = ["seed_demo_devlinks"]

REPO = "demo-org/demo-app"


async def seed_demo_devlinks(settings: Settings, *, email: str, keys: Sequence[str]) -> int:
    """Add the demo rows unless the user has links already; how many links were added."""
    if len(keys) < 2:
        return 0
    async with accounts_context(settings) as ctx:
        user = await user_by_email(ctx, email)
        store = DevLinkStore(ctx.sessions, f"user:{user.id}")
        if await store.links():
            return 0
        first, second = keys[0], keys[1]
        sha = "4f1c2d9e8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
        await store.save_link(
            StoredLink(
                first,
                REPO,
                "pull_request",
                "12",
                ("title", "branch"),
                f"https://github.com/{REPO}/pull/12",
                f"{first}: export to CSV",
                "merged",
            )
        )
        await store.save_link(
            StoredLink(
                second,
                REPO,
                "commit",
                sha,
                ("commit_message",),
                f"https://github.com/{REPO}/commit/{sha}",
                f"{second} #time 1h 30m tests",
                None,
            )
        )
        await store.record_smart_result(
            repo=REPO,
            sha=sha,
            external_id=f"smart:{sha}:{second}:time:1",
            issue_key=second,
            kind="smart_worklog",
            status="done",
        )
        await store.save(StoredCursor(REPO, 12, 12, 12, True))
        github = build_github_service(
            settings, ctx.sessions, jira_clients=ctx.clients, box=ctx.secrets.box
        )
        created = await github.create(
            f"user:{user.id}",
            name="demo-org (offline demo)",
            kind="token",
            secret="demo-placeholder-token",  # noqa: S106 - not a credential: the demo is offline
            repos=[REPO],
            project_keys=[first.split("-", 1)[0]],
        )
        await store.log_triage(
            "github",
            [(f"{REPO}#13", "crashes to backend", "add_labels", "triaged", "done", "")],
            connection_id=created.connection.id,
        )
        async with write_transaction(ctx.sessions) as session:
            session.add(
                BackfillRunRow(
                    id=str(uuid.uuid4()),
                    owner_user_id=user.id,
                    connection_id=created.connection.id,
                    repos=[REPO],
                    months=6,
                    status="finished",
                    report={"repos": [{"repo": REPO, "status": "done", "processed": 12}]},
                    finished_at=utcnow(),
                )
            )
        return 2
