"""Export profiles and exports as one user sees them: their own and their teams'.

Like connections, another user's profile or export is "not found", never "forbidden": the
API does not confirm that an id exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from jirabridge.errors import ConflictError, NotFoundError
from jirabridge.store.accounts import visible_to
from jirabridge.store.export_models import ExportItemRow, ExportProfileRow, StoryExportRow

__all__ = ["ExportProfileRepository", "StoryExportRepository"]


class ExportProfileRepository:
    """Export profiles visible to one user."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self._session = session
        self._user_id = user_id

    def _visible(self) -> ColumnElement[bool]:
        return visible_to(
            self._user_id, ExportProfileRow.owner_user_id, ExportProfileRow.owner_team_id
        )

    async def list(self) -> Sequence[ExportProfileRow]:
        """Visible profiles, by name."""
        result = await self._session.execute(
            select(ExportProfileRow).where(self._visible()).order_by(ExportProfileRow.name)
        )
        return result.scalars().all()

    async def get(self, profile_id: str) -> ExportProfileRow:
        """One visible profile, or NotFoundError."""
        result = await self._session.execute(
            select(ExportProfileRow).where(ExportProfileRow.id == profile_id, self._visible())
        )
        row = result.scalar_one_or_none()
        if row is None:
            raise NotFoundError("no such export profile")
        return row

    async def by_name(self, name: str) -> ExportProfileRow:
        """The user's own profile called ``name``, or NotFoundError."""
        result = await self._session.execute(
            select(ExportProfileRow).where(
                ExportProfileRow.owner_user_id == self._user_id, ExportProfileRow.name == name
            )
        )
        row = result.scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"no export profile named {name!r}")
        return row

    async def add(self, row: ExportProfileRow) -> ExportProfileRow:
        """Insert a profile owned by this user; ConflictError when the name is taken."""
        row.owner_user_id = self._user_id
        row.owner_team_id = None
        self._session.add(row)
        try:
            async with self._session.begin_nested():
                await self._session.flush()
        except IntegrityError:
            raise ConflictError(f"you already have an export profile named {row.name!r}") from None
        return row

    async def rename_check(self, row: ExportProfileRow, name: str) -> None:
        """ConflictError when another of the user's profiles is already called ``name``."""
        clash = await self._session.execute(
            select(ExportProfileRow.id).where(
                ExportProfileRow.owner_user_id == row.owner_user_id,
                ExportProfileRow.name == name,
                ExportProfileRow.id != row.id,
            )
        )
        if clash.first() is not None:
            raise ConflictError(f"you already have an export profile named {name!r}")

    async def delete(self, profile_id: str) -> None:
        """Delete a visible profile (its exports keep their copy of it)."""
        row = await self.get(profile_id)
        await self._session.delete(row)


class StoryExportRepository:
    """Exports visible to one user, and their items."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self._session = session
        self._user_id = user_id

    def _visible(self) -> ColumnElement[bool]:
        return visible_to(self._user_id, StoryExportRow.owner_user_id, StoryExportRow.owner_team_id)

    async def get(self, export_id: str) -> StoryExportRow:
        """One visible export, or NotFoundError."""
        result = await self._session.execute(
            select(StoryExportRow).where(StoryExportRow.id == export_id, self._visible())
        )
        row = result.scalar_one_or_none()
        if row is None:
            raise NotFoundError("no such export")
        return row

    async def page(
        self, *, offset: int = 0, limit: int = 50
    ) -> tuple[Sequence[StoryExportRow], int]:
        """Visible exports, newest first, and how many there are."""
        total = await self._session.scalar(
            select(func.count()).select_from(StoryExportRow).where(self._visible())
        )
        result = await self._session.execute(
            select(StoryExportRow)
            .where(self._visible())
            .order_by(StoryExportRow.created_at.desc(), StoryExportRow.id)
            .offset(offset)
            .limit(limit)
        )
        return result.scalars().all(), int(total or 0)

    async def items(self, export_id: str) -> Sequence[ExportItemRow]:
        """The items of a visible export, in plan order."""
        await self.get(export_id)
        result = await self._session.execute(
            select(ExportItemRow)
            .where(ExportItemRow.export_id == export_id)
            .order_by(ExportItemRow.position)
        )
        return result.scalars().all()
