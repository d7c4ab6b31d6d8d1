"""The demo's stories export: a sample stories file and a saved profile mapping it to the
simulator's first project, so the export can be previewed and run straight away, and one
finished export of another small file, so the history and its pages have data."""

from __future__ import annotations

import contextlib
from pathlib import Path

from jirabridge.cli.accounts_common import accounts_context, user_by_email
from jirabridge.errors import NotFoundError
from jirabridge.service.settings import Settings
from jirabridge.service.stories import ExportRequest, ProfileInput, StoriesService
from jirabridge.store.accounts import ConnectionRepository
from jirabridge.store.db import read_transaction

__all__ = ["DEMO_EXPORTED", "DEMO_PROFILE", "DEMO_STORIES", "seed_demo_export", "seed_demo_stories"]

#: The name of the demo's saved export profile.
DEMO_PROFILE = "demo"

#: The demo's stories file (written next to the demo's data).
DEMO_STORIES = """\
epics:
  - id: CHECKOUT
    title: Checkout
    description: Paying for the basket, **quickly** and safely.
    stories:
      - id: CHECKOUT-CARD
        title: Pay by card
        story: As a shopper I want to pay by card so that I can check out quickly
        acceptance_criteria:
          - Visa and Mastercard are accepted
          - A declined card is explained in plain words
        priority: High
        labels: [payments]
        points: 3
      - id: CHECKOUT-RECEIPT
        title: E-mail a receipt
        story: As a shopper I want a receipt by e-mail so that I can file my expenses
        acceptance_criteria: [The receipt arrives within a minute, It lists VAT]
        points: 2
  - id: SEARCH
    title: Product search
    description: Finding things in the catalogue.
    stories:
      - id: SEARCH-TYPO
        title: Forgive typos
        story: As a shopper I want typos forgiven so that I still find what I meant
        acceptance_criteria: [One wrong letter still finds the product]
        points: 5
      - id: SEARCH-FILTER
        title: Filter by price
        story: As a shopper I want to filter by price so that I see what I can afford
        acceptance_criteria: [A minimum and a maximum can be set, The filter survives paging]
        points: 3
"""


#: Exported by the demo itself through the ``demo`` profile (other ids than the sample file,
#: so uploading the sample still creates its issues).
DEMO_EXPORTED = """\
epics:
  - id: ONBOARDING
    title: Onboarding
    description: New users find their way in the first five minutes.
    stories:
      - id: ONBOARDING-TOUR
        title: Guided tour
        story: As a new user I want a short tour so that I know where things are
        acceptance_criteria:
          - The tour starts on first login
          - It can be skipped and restarted from the help menu
        priority: High
        points: 3
        components: [web]
      - id: ONBOARDING-SAMPLE
        title: Sample project
        story: As a new user I want sample data so that I can try features safely
        acceptance_criteria: [A sample project is created on request]
        points: 2
"""


async def seed_demo_stories(settings: Settings, *, email: str, project: str) -> Path:
    """Write the demo stories file and save the ``demo`` profile (once); the file's path."""
    path = settings.data_dir / "demo-stories.yaml"
    if not path.exists():
        path.write_text(DEMO_STORIES, encoding="utf-8")
    async with accounts_context(settings) as ctx:
        user = await user_by_email(ctx, email)
        service = StoriesService(ctx.sessions, ctx.clients)
        with contextlib.suppress(NotFoundError):
            await service.profile_id_by_name(user.id, DEMO_PROFILE)
            return path  # seeded by an earlier run
        async with read_transaction(ctx.sessions) as session:
            connections = await ConnectionRepository(session, user.id).list()
        await service.create_profile(
            user.id,
            ProfileInput(
                name=DEMO_PROFILE,
                connection_id=connections[0].id if connections else None,
                settings={"project": project, "priority_map": {"High": "High"}},
            ),
        )
    return path


async def seed_demo_export(settings: Settings, *, email: str) -> str | None:
    """Export :data:`DEMO_EXPORTED` through the ``demo`` profile, in this process and exactly
    as the service would (preview, then that plan), unless the user has exports already; the
    export's id, or None when there was one. Needs :func:`seed_demo_stories` first and the
    simulator running."""
    async with accounts_context(settings) as ctx:
        user = await user_by_email(ctx, email)
        service = StoriesService(ctx.sessions, ctx.clients)
        _, total = await service.list_exports(user.id, limit=1)
        if total:
            return None
        profile_id = await service.profile_id_by_name(user.id, DEMO_PROFILE)
        body = ExportRequest(
            filename="onboarding.yaml", content=DEMO_EXPORTED, profile_id=profile_id
        )
        body.plan_id = (await service.preview(user.id, body)).plan_id
        return await service.export_now(user.id, body)
