"""The stories export service: profiles, Jira metadata for mapping, preview, durable
exports with history, rollback and status refresh — what the REST API, the UI and the CLI
share.

Everything is scoped to what the caller may see: another user's profile, export or
connection is "not found". A preview returns a ``plan_id``; starting an export re-plans from
the same inputs and refuses (409) unless the id is the same, then stores that plan and queues
a durable workflow in the site's partition (:mod:`jirabridge.sync.stories.jobs`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ConflictError, NotFoundError, ValidationError
from jirabridge.jira import JiraClient
from jirabridge.jobs.engine import JobEngine
from jirabridge.service.connection_clients import JiraClientFactory
from jirabridge.store.account_models import ConnectionKind, JiraConnectionRow, UserRow
from jirabridge.store.accounts import ConnectionRepository, get_connection_unscoped
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.export_models import (
    ExportItemRow,
    ExportProfileRow,
    ExportStatus,
    ItemOutcome,
    StoryExportRow,
)
from jirabridge.store.ledger import WriteLedger
from jirabridge.store.models import utcnow
from jirabridge.store.story_exports import ExportProfileRepository, StoryExportRepository
from jirabridge.sync.status_subjects import live_statuses
from jirabridge.sync.stories import jobs as story_jobs
from jirabridge.sync.stories.execute import ExportResult, ItemResult, prior_state
from jirabridge.sync.stories.items import ItemProblem
from jirabridge.sync.stories.parse import detect_format, parse_stories
from jirabridge.sync.stories.plan import ExportPlan, ExportProfile, plan_export
from jirabridge.sync.stories.rollback import (
    RollbackMode,
    apply_rollback,
    fetch_current,
    plan_rollback,
    refresh_status,
)
from jirabridge.sync.stories.snapshot import plan_from_json, plan_id

__all__ = [
    "PROFILE_NAME",
    "ExportRequest",
    "MetadataCache",
    "ProfileInput",
    "RollbackRequest",
    "StoriesService",
    "export_dict",
    "install_story_jobs",
    "profile_dict",
]

#: What a profile name may be.
PROFILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}$"
#: How long project and createmeta answers are reused before asking Jira again.
METADATA_TTL_SEC = 300.0
_STORY_POINT_NAMES = ("story points", "story point estimate")
#: An item's Jira status as webhooks/polling recorded it, and when.
LiveStatus = tuple[str | None, datetime]


class ProfileInput(BaseModel):
    """A saved export profile: a name, a connection, and the mapping (``settings``).

    ``settings`` holds the :class:`~jirabridge.sync.stories.plan.ExportProfile` fields except
    ``namespace`` (project, flavor, epic_type, story_type, story_points_field,
    epic_link_field, epic_name_field, criteria_style, priority_map, extra_fields, label).
    Default components go in ``extra_fields`` as ``{"components": [{"name": ...}]}``.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=PROFILE_NAME)
    connection_id: str | None = None
    settings: dict[str, Any]


class ExportRequest(BaseModel):
    """A stories file and how to map it: a saved profile, or a mapping given inline."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255, description="Its extension: the format.")
    content: str = Field(max_length=5_000_000)
    profile_id: str | None = None
    #: Required with an inline ``profile``; overrides a saved profile's connection.
    connection_id: str | None = None
    #: An inline mapping (``settings`` of a profile) when no ``profile_id`` is given.
    profile: dict[str, Any] | None = None
    profile_name: str = Field(default="default", pattern=r"^[A-Za-z0-9._-]{1,40}$")
    #: The ``plan_id`` of the preview this export carries out (required to export).
    plan_id: str | None = None

    @model_validator(mode="after")
    def _one_profile(self) -> ExportRequest:
        if (self.profile_id is None) == (self.profile is None):
            raise ValueError("give either profile_id or profile")
        if self.profile is not None and self.connection_id is None:
            raise ValueError("an inline profile needs connection_id")
        return self


class RollbackRequest(BaseModel):
    """How to roll an export back; ``dry_run`` (the default) only plans."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["delete", "transition", "label"] = "delete"
    force: bool = False
    to_status: str | None = Field(default=None, max_length=128)
    dry_run: bool = True


def _mapping(settings: dict[str, Any], namespace: str, row: JiraConnectionRow) -> ExportProfile:
    values = {k: v for k, v in settings.items() if k != "namespace"}
    if "flavor" not in values:
        dc = row.kind in (ConnectionKind.DC_PAT, ConnectionKind.DC_BASIC)
        values["flavor"] = "datacenter" if dc else "cloud"
    values["namespace"] = namespace
    try:
        return ExportProfile.model_validate(values)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationError(f"profile.{where}: {first['msg']}") from None


def _check_settings(settings: dict[str, Any]) -> None:
    values = {k: v for k, v in settings.items() if k != "namespace"}
    try:
        ExportProfile.model_validate({**values, "namespace": "check"})
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationError(f"settings.{where}: {first['msg']}") from None


def profile_dict(row: ExportProfileRow) -> dict[str, Any]:
    """The API form of a profile."""
    return {
        "id": row.id,
        "name": row.name,
        "connection_id": row.connection_id,
        "settings": row.settings,
        "version": row.version,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def _browse(base_url: str, key: str | None) -> str | None:
    return f"{base_url.rstrip('/')}/browse/{key}" if key else None


def item_dict(row: ExportItemRow, base_url: str, live: LiveStatus | None = None) -> dict[str, Any]:
    """The API form of one export item; ``live`` is its status as webhooks/polling last saw it,
    shown when newer than the last manual refresh."""
    status, checked = row.jira_status, row.status_checked_at
    if live is not None and (checked is None or live[1] > checked):
        status, checked = live
    return {
        "item": row.item_id,
        "level": row.level,
        "summary": row.summary,
        "action": row.action,
        "outcome": row.outcome,
        "key": row.jira_key,
        "url": _browse(base_url, row.jira_key),
        "error": row.error,
        "jira_status": status,
        "status_checked_at": checked.isoformat() if checked else None,
        "rollback": row.rollback,
    }


def export_dict(
    row: StoryExportRow,
    items: Sequence[ExportItemRow] | None = None,
    *,
    actor_email: str | None = None,
    live: Mapping[int, LiveStatus] | None = None,
) -> dict[str, Any]:
    """The API form of an export; with ``items``, its per-item results and live counts."""
    counts = dict(row.counts or {})
    if items is not None:
        counts = {}
        for item in items:
            counts[item.outcome] = counts.get(item.outcome, 0) + 1
    done = sum(n for outcome, n in counts.items() if outcome != ItemOutcome.PENDING)
    out: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "ok": row.status == "finished"
        and not counts.get(ItemOutcome.FAILED)
        and not counts.get(ItemOutcome.UNKNOWN),
        "connection_id": row.connection_id,
        "site": row.site,
        "profile_id": row.profile_id,
        "profile_name": row.profile_name,
        "file_name": row.file_name,
        "file_hash": row.file_hash,
        "plan_id": row.plan_id,
        "actor_user_id": row.actor_user_id,
        "actor_email": actor_email,
        "total": row.total,
        "done": done,
        "counts": counts,
        "error": row.error,
        "created_at": row.created_at.isoformat(),
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "rollback": row.rollback,
    }
    if items is not None:
        live = live or {}
        out["items"] = [item_dict(i, row.base_url, live.get(i.id)) for i in items]
    return out


class MetadataCache:
    """Jira metadata answers per connection, reused for ``ttl`` seconds (``refresh`` skips)."""

    def __init__(
        self, ttl: float = METADATA_TTL_SEC, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, ...], tuple[float, Any]] = {}

    async def get(
        self, key: tuple[str, ...], load: Callable[[], Awaitable[Any]], *, refresh: bool = False
    ) -> Any:
        """The cached value of ``key``, or ``load()``'s (then cached)."""
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and not refresh and hit[0] > now:
            return hit[1]
        value = await load()
        self._entries[key] = (now + self.ttl, value)
        return value


@dataclass(frozen=True)
class _Resolved:
    """A request's profile, connection and namespace, looked up for the caller."""

    profile: ExportProfile
    connection: JiraConnectionRow
    profile_id: str | None
    profile_name: str


@dataclass
class Preview:
    """A plan with its id, and where it would go."""

    plan: ExportPlan
    plan_id: str
    file_hash: str
    resolved: _Resolved

    def as_dict(self) -> dict[str, Any]:
        """The preview's API form: the plan, its id, the file's hash."""
        return {
            **self.plan.to_dict(),
            "ok": self.plan.ok,
            "plan_id": self.plan_id,
            "file_hash": self.file_hash,
            "connection_id": self.resolved.connection.id,
            "profile_id": self.resolved.profile_id,
        }


class StoriesService:
    """Stories export for one process."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clients: JiraClientFactory,
        *,
        jobs: JobEngine | None = None,
        cache: MetadataCache | None = None,
    ) -> None:
        self.sessions = sessions
        self._clients = clients
        self._jobs = jobs
        self.cache = cache or MetadataCache()

    # -- profiles ---------------------------------------------------------------------------

    async def list_profiles(self, user_id: str) -> list[dict[str, Any]]:
        """The caller's profiles."""
        async with read_transaction(self.sessions) as session:
            return [profile_dict(r) for r in await ExportProfileRepository(session, user_id).list()]

    async def get_profile(self, user_id: str, profile_id: str) -> dict[str, Any]:
        """One profile."""
        async with read_transaction(self.sessions) as session:
            return profile_dict(await ExportProfileRepository(session, user_id).get(profile_id))

    async def create_profile(self, user_id: str, data: ProfileInput) -> dict[str, Any]:
        """Save a new profile (its connection must be one the caller may use)."""
        _check_settings(data.settings)
        async with write_transaction(self.sessions) as session:
            if data.connection_id is not None:
                await ConnectionRepository(session, user_id).get(data.connection_id)
            row = ExportProfileRow(
                name=data.name, connection_id=data.connection_id, settings=data.settings, version=1
            )
            return profile_dict(await ExportProfileRepository(session, user_id).add(row))

    async def update_profile(
        self, user_id: str, profile_id: str, data: ProfileInput
    ) -> dict[str, Any]:
        """Replace a profile's name, connection and mapping; its version grows."""
        _check_settings(data.settings)
        async with write_transaction(self.sessions) as session:
            repo = ExportProfileRepository(session, user_id)
            row = await repo.get(profile_id)
            if data.connection_id is not None:
                await ConnectionRepository(session, user_id).get(data.connection_id)
            await repo.rename_check(row, data.name)
            row.name = data.name
            row.connection_id = data.connection_id
            row.settings = data.settings
            row.version += 1
            await session.flush()
            return profile_dict(row)

    async def delete_profile(self, user_id: str, profile_id: str) -> None:
        """Delete a profile (exports made with it keep their copy)."""
        async with write_transaction(self.sessions) as session:
            await ExportProfileRepository(session, user_id).delete(profile_id)

    async def profile_id_by_name(self, user_id: str, name: str) -> str:
        """The id of the caller's profile called ``name``."""
        async with read_transaction(self.sessions) as session:
            return (await ExportProfileRepository(session, user_id).by_name(name)).id

    # -- Jira metadata ----------------------------------------------------------------------

    async def _connection(self, user_id: str, connection_id: str) -> JiraConnectionRow:
        async with read_transaction(self.sessions) as session:
            return await ConnectionRepository(session, user_id).get(connection_id)

    @asynccontextmanager
    async def _jira(self, row: JiraConnectionRow) -> AsyncIterator[JiraClient]:
        client = await self._clients.for_connection(row)
        try:
            yield client
        finally:
            await client.aclose()

    async def projects(
        self, user_id: str, connection_id: str, *, refresh: bool = False
    ) -> list[dict[str, Any]]:
        """The projects the connection can see: ``[{id, key, name}]``."""
        row = await self._connection(user_id, connection_id)

        async def load() -> list[dict[str, Any]]:
            async with self._jira(row) as jira:
                return [{"id": p.id, "key": p.key, "name": p.name} for p in await jira.projects()]

        result: list[dict[str, Any]] = await self.cache.get(
            (row.id, "projects"), load, refresh=refresh
        )
        return result

    async def _project_meta(
        self, row: JiraConnectionRow, project: str, *, refresh: bool = False
    ) -> dict[str, Any]:
        async def load() -> dict[str, Any]:
            async with self._jira(row) as jira:
                types = await jira.create_issue_types(project)
                fields: dict[str, list[dict[str, Any]]] = {}
                for issue_type in types:
                    fields[issue_type.name] = [
                        {
                            "id": f.field_id,
                            "name": f.name,
                            "required": f.required,
                            "has_default": bool(f.has_default_value),
                            "schema": f.field_schema,
                        }
                        for f in await jira.create_fields(project, issue_type.id)
                    ]
                all_fields = await jira.fields()
                is_cloud = await jira.is_cloud()
            return {
                "project": project,
                "flavor": "cloud" if is_cloud else "datacenter",
                "issue_types": [
                    {
                        "id": t.id,
                        "name": t.name,
                        "subtask": t.subtask,
                        "hierarchy_level": t.hierarchy_level,
                    }
                    for t in types
                ],
                "fields": fields,
                "site_fields": [
                    {"id": f.id, "name": f.name, "custom": f.custom, "schema": f.field_schema}
                    for f in all_fields
                ],
            }

        result: dict[str, Any] = await self.cache.get(
            (row.id, "project", project), load, refresh=refresh
        )
        return result

    async def mapping_options(
        self, user_id: str, connection_id: str, project: str, *, refresh: bool = False
    ) -> dict[str, Any]:
        """What the profile editor offers for ``project``: issue types per level, the fields
        each type requires, and the site's story points, epic link and epic name fields."""
        row = await self._connection(user_id, connection_id)
        meta = await self._project_meta(row, project, refresh=refresh)
        return mapping_from_meta(meta)

    async def _required(
        self, row: JiraConnectionRow, profile: ExportProfile
    ) -> tuple[dict[str, list[str]], list[ItemProblem]]:
        meta = await self._project_meta(row, profile.project)
        required: dict[str, list[str]] = {}
        problems: list[ItemProblem] = []
        for type_name in dict.fromkeys((profile.epic_type, profile.story_type)):
            fields = meta["fields"].get(type_name)
            if fields is None:
                problems.append(
                    ItemProblem(f"project {profile.project} has no issue type {type_name!r}")
                )
                continue
            required[type_name] = [
                f["id"]
                for f in fields
                if f["required"]
                and not f["has_default"]
                and f["id"] not in ("summary", "issuetype", "project")
            ]
        return required, problems

    # -- preview and export -----------------------------------------------------------------

    async def _resolve(self, user_id: str, body: ExportRequest) -> _Resolved:
        async with read_transaction(self.sessions) as session:
            if body.profile_id is not None:
                saved = await ExportProfileRepository(session, user_id).get(body.profile_id)
                connection_id = body.connection_id or saved.connection_id
                if connection_id is None:
                    raise ValidationError("the profile has no connection: give connection_id")
                row = await ConnectionRepository(session, user_id).get(connection_id)
                # Keyed by the profile's id: renaming it must not orphan what it exported.
                profile = _mapping(saved.settings, f"p-{saved.id}", row)
                return _Resolved(profile, row, saved.id, saved.name)
            assert body.profile is not None
            assert body.connection_id is not None
            row = await ConnectionRepository(session, user_id).get(body.connection_id)
        profile = _mapping(body.profile, f"u-{user_id}.{body.profile_name}", row)
        return _Resolved(profile, row, None, body.profile_name)

    async def preview(self, user_id: str, body: ExportRequest) -> Preview:
        """The plan of exporting the file: nothing is written."""
        resolved = await self._resolve(user_id, body)
        stories = parse_stories(body.content, detect_format(body.filename))
        required, problems = await self._required(resolved.connection, resolved.profile)
        ids = [e.id for e in stories.epics] + [s.id for s in stories.stories]
        site = site_of(resolved.connection)
        prior = await prior_state(WriteLedger(self.sessions), site, resolved.profile, ids)
        plan = plan_export(stories, resolved.profile, prior, required_fields=required)
        plan.problems.extend(problems)
        file_hash = hashlib.sha256(body.content.encode()).hexdigest()
        return Preview(plan, plan_id(plan), file_hash, resolved)

    async def _prepare(self, user_id: str, body: ExportRequest) -> Preview:
        if not body.plan_id:
            raise ValidationError("plan_id is required: preview first, then export that plan")
        preview = await self.preview(user_id, body)
        if preview.plan_id != body.plan_id:
            raise ConflictError(
                "the file, the profile or what Jira holds changed since the preview; "
                "preview again and export the new plan"
            )
        if not preview.plan.ok:
            first = "; ".join(str(p) for p in preview.plan.problems[:3])
            raise ValidationError(f"the plan has problems and cannot be exported: {first}")
        return preview

    async def _record(self, user_id: str, body: ExportRequest, preview: Preview) -> str:
        row = preview.resolved.connection
        return await story_jobs.record_export(
            self.sessions,
            preview.plan,
            owner_user_id=user_id,
            actor_user_id=user_id,
            connection_id=row.id,
            site=site_of(row),
            base_url=row.base_url,
            profile_id=preview.resolved.profile_id,
            profile_name=preview.resolved.profile_name,
            file_name=body.filename,
            file_hash=preview.file_hash,
        )

    async def start_export(self, user_id: str, body: ExportRequest) -> str:
        """Check the plan is the previewed one, store it, queue its workflow; the export id."""
        if self._jobs is None:
            raise ValidationError("exports need the job engine")
        preview = await self._prepare(user_id, body)
        export_id = await self._record(user_id, body, preview)
        await story_jobs.enqueue_export(self._jobs, export_id, site_of(preview.resolved.connection))
        return export_id

    async def export_now(
        self,
        user_id: str,
        body: ExportRequest,
        progress: Callable[[ItemResult], Awaitable[None] | None] | None = None,
    ) -> str:
        """The same export carried out in this process (the CLI): same checks, same records.

        Interrupted (Ctrl-C, a cancelled task), the export is marked ``failed`` with how to
        finish it; a process killed outright leaves it ``running`` for :meth:`resume_now`.
        """
        preview = await self._prepare(user_id, body)
        export_id = await self._record(user_id, body, preview)
        await self._run_here(export_id, progress)
        return export_id

    async def resume_now(
        self,
        user_id: str,
        export_id: str,
        progress: Callable[[ItemResult], Awaitable[None] | None] | None = None,
        *,
        force: bool = False,
    ) -> None:
        """Finish an export in this process after its run was interrupted or failed.

        Items already in Jira are found through the ledger and the issues' stamps, never
        created twice. An export marked ``running`` may still have a live runner (a worker), so
        it is refused unless ``force`` says the process running it is gone; a finished export
        has nothing left to do.
        """
        async with read_transaction(self.sessions) as session:
            row = await StoryExportRepository(session, user_id).get(export_id)
            status = row.status
        if status == ExportStatus.FINISHED:
            raise ConflictError("the export has finished; nothing to resume")
        if status == ExportStatus.QUEUED:
            raise ConflictError("the export is queued; a worker will run it")
        if status == ExportStatus.RUNNING and not force:
            raise ConflictError(
                "the export is marked running; if the process running it is gone (a CLI run "
                "that was killed), resume with force"
            )
        await self._run_here(export_id, progress)

    async def _run_here(
        self,
        export_id: str,
        progress: Callable[[ItemResult], Awaitable[None] | None] | None,
    ) -> None:
        try:
            await story_jobs.run_export(
                export_id, sessions=self.sessions, provider=self.client_for, progress=progress
            )
        except (Exception, KeyboardInterrupt, asyncio.CancelledError):
            # Shielded: a cancelled task may be cancelled again while it records the reason.
            await asyncio.shield(
                story_jobs.mark_interrupted(
                    self.sessions,
                    export_id,
                    "stopped before it finished; `jirabridge export resume "
                    f"{export_id}` finishes it (items already in Jira are not written again)",
                )
            )
            raise

    @asynccontextmanager
    async def client_for(self, connection_id: str) -> AsyncIterator[JiraClient]:
        """A client of a connection (workers: no user scoping here)."""
        async with read_transaction(self.sessions) as session:
            row = await get_connection_unscoped(session, connection_id)
        async with self._jira(row) as jira:
            yield jira

    # -- history ----------------------------------------------------------------------------

    async def list_exports(
        self, user_id: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        """The caller's exports, newest first."""
        if not 1 <= limit <= 200 or offset < 0:
            raise ValidationError("limit must be 1..200 and offset 0 or more")
        async with read_transaction(self.sessions) as session:
            rows, total = await StoryExportRepository(session, user_id).page(
                offset=offset, limit=limit
            )
            emails = await _emails(session, [r.actor_user_id for r in rows])
            return [export_dict(r, actor_email=emails.get(r.actor_user_id)) for r in rows], total

    async def get_export(self, user_id: str, export_id: str) -> dict[str, Any]:
        """One export with its items."""
        async with read_transaction(self.sessions) as session:
            repo = StoryExportRepository(session, user_id)
            row = await repo.get(export_id)
            emails = await _emails(session, [row.actor_user_id])
            items = await repo.items(export_id)
            return export_dict(
                row,
                items,
                actor_email=emails.get(row.actor_user_id),
                live=await live_statuses(session, row.connection_id, items),
            )

    # -- rollback and status ----------------------------------------------------------------

    async def _export_and_items(
        self, user_id: str, export_id: str
    ) -> tuple[StoryExportRow, Sequence[ExportItemRow], JiraConnectionRow]:
        async with read_transaction(self.sessions) as session:
            repo = StoryExportRepository(session, user_id)
            row = await repo.get(export_id)
            items = await repo.items(export_id)
            if row.connection_id is None:
                raise ValidationError("this export's Jira connection was deleted")
            try:
                connection = await ConnectionRepository(session, user_id).get(row.connection_id)
            except NotFoundError:
                raise ValidationError("this export's Jira connection is gone") from None
        return row, items, connection

    async def rollback(
        self, user_id: str, export_id: str, request: RollbackRequest
    ) -> dict[str, Any]:
        """Plan (``dry_run``) or apply the rollback of the issues an export created."""
        row, items, connection = await self._export_and_items(user_id, export_id)
        if row.status in ("queued", "running"):
            raise ConflictError("the export is still running; roll it back when it has finished")
        plan = plan_from_json(row.plan)
        created = ExportResult(
            [
                ItemResult(
                    i.item_id, "epic" if i.level == "epic" else "story", "created", i.jira_key
                )
                for i in items
                if i.outcome == ItemOutcome.CREATED and i.jira_key
            ]
        )
        mode: RollbackMode = request.mode
        async with self._jira(connection) as jira:
            current = await fetch_current(jira, [r.key for r in created.results if r.key])
            steps = plan_rollback(
                plan, created, current, mode=mode, force=request.force, to_status=request.to_status
            )
            outcome: dict[str, str] = {}
            if not request.dry_run:
                outcome = await apply_rollback(
                    steps, jira=jira, ledger=WriteLedger(self.sessions), site=row.site
                )
        result = {
            "export_id": export_id,
            "mode": mode,
            "to_status": request.to_status,
            "force": request.force,
            "dry_run": request.dry_run,
            "counts": steps.counts(),
            "steps": [
                {
                    "item": s.item_id,
                    "key": s.key,
                    "url": _browse(row.base_url, s.key),
                    "action": s.action,
                    "reason": s.reason,
                    "outcome": outcome.get(s.item_id),
                }
                for s in steps.steps
            ],
        }
        if not request.dry_run:
            async with write_transaction(self.sessions) as session:
                stored = await session.get(StoryExportRow, export_id)
                assert stored is not None
                stored.rollback = {
                    "mode": mode,
                    "at": utcnow().isoformat(),
                    "force": request.force,
                    "counts": steps.counts(),
                }
                for item in await StoryExportRepository(session, user_id).items(export_id):
                    if item.item_id in outcome:
                        item.rollback = outcome[item.item_id]
        return result

    async def refresh_status(self, user_id: str, export_id: str) -> dict[str, Any]:
        """Read every exported issue's current Jira status now; the export with items."""
        _, items, connection = await self._export_and_items(user_id, export_id)
        keys = [i.jira_key for i in items if i.jira_key]
        async with self._jira(connection) as jira:
            statuses = await refresh_status(jira, keys)
        now = utcnow()
        async with write_transaction(self.sessions) as session:
            for item in await StoryExportRepository(session, user_id).items(export_id):
                if item.jira_key in statuses:
                    item.jira_status = statuses[item.jira_key] or "(deleted)"
                    item.status_checked_at = now
        return await self.get_export(user_id, export_id)


async def _emails(session: AsyncSession, user_ids: Sequence[str | None]) -> dict[str | None, str]:
    """Who started each export, by e-mail (history shows people, not ids)."""
    wanted = {u for u in user_ids if u}
    if not wanted:
        return {}
    found = await session.execute(select(UserRow.id, UserRow.email).where(UserRow.id.in_(wanted)))
    return {str(user_id): str(email) for user_id, email in found.all()}


def site_of(row: JiraConnectionRow) -> str:
    """The site key of a connection (queue partition and ledger site)."""
    return row.site_key


def mapping_from_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Pick the defaults the editor offers from a project's createmeta and the site's fields."""
    types: list[dict[str, Any]] = meta["issue_types"]
    names = {t["name"].lower(): t["name"] for t in types}

    def pick(*wanted: str) -> str | None:
        return next((names[w] for w in wanted if w in names), None)

    site_fields: list[dict[str, Any]] = meta["site_fields"]

    def custom_of(kind: str) -> dict[str, Any] | None:
        return next(
            (
                {"id": f["id"], "name": f["name"]}
                for f in site_fields
                if str((f.get("schema") or {}).get("custom", "")).endswith(kind)
            ),
            None,
        )

    points = next(
        (
            {"id": f["id"], "name": f["name"]}
            for wanted in _STORY_POINT_NAMES
            for f in site_fields
            if f.get("custom") and f["name"].lower() == wanted
        ),
        None,
    )
    required = {
        name: [f["id"] for f in fields if f["required"] and not f["has_default"]]
        for name, fields in meta["fields"].items()
    }
    return {
        "project": meta["project"],
        "flavor": meta["flavor"],
        "issue_types": types,
        "levels": {
            "epic": pick("epic"),
            "story": pick("story"),
            "task": pick("task"),
            "subtask": next((t["name"] for t in types if t["subtask"]), None),
        },
        "fields": meta["fields"],
        "required": required,
        "story_points_field": points,
        "epic_link_field": custom_of(":gh-epic-link"),
        "epic_name_field": custom_of(":gh-epic-label"),
    }


def install_story_jobs(
    sessions: async_sessionmaker[AsyncSession], make_service: Callable[[], StoriesService]
) -> None:
    """Give this process's export workflows their resources, built on first use.

    Call before the job engine launches, so that exports recovered at launch find them.
    """
    built: list[StoriesService] = []

    @asynccontextmanager
    async def provider(connection_id: str) -> AsyncIterator[JiraClient]:
        if not built:
            built.append(make_service())
        async with built[0].client_for(connection_id) as jira:
            yield jira

    story_jobs.configure(sessions, provider)
