"""Who am I, what is this server, and what can be created where: projects, fields, createmeta."""

from __future__ import annotations

from jirabridge.jira.core import JiraCore, path_part
from jirabridge.jira.models import (
    CreateMetaField,
    FieldDefinition,
    IssueType,
    Project,
    ServerInfo,
    User,
)

__all__ = ["MetadataMixin"]


class MetadataMixin(JiraCore):
    """Site, user and schema metadata."""

    async def server_info(self) -> ServerInfo:
        """``GET /serverInfo`` (fresh each call; also settles Cloud vs Data Center)."""
        return await self._fetch_server_info()

    async def myself(self) -> User:
        """The user the credentials belong to."""
        return User.model_validate(await self._get(await self._api("myself")))

    async def projects(self) -> list[Project]:
        """Every project the caller can see (Cloud pages ``/project/search``; DC lists)."""
        if await self.is_cloud():
            return [
                Project.model_validate(raw)
                async for raw in self._offset_pages(
                    await self._api("project/search"), params={"expand": "issueTypes"}
                )
            ]
        data = await self._get(await self._api("project"), {"expand": "issueTypes"})
        return [Project.model_validate(raw) for raw in data]

    async def get_project(self, key: str) -> Project:
        """One project, with its issue types."""
        return Project.model_validate(await self._get(await self._api(f"project/{path_part(key)}")))

    async def fields(self) -> list[FieldDefinition]:
        """Every field, system and custom."""
        return [
            FieldDefinition.model_validate(raw) for raw in await self._get(await self._api("field"))
        ]

    async def create_issue_types(self, project: str) -> list[IssueType]:
        """The issue types that can be created in ``project`` (createmeta, per project)."""
        path = await self._api(f"issue/createmeta/{path_part(project)}/issuetypes")
        # Cloud names the list "issueTypes", Data Center "values".
        pages = self._offset_pages(path, items_key=("issueTypes", "values"))
        return [IssueType.model_validate(raw) async for raw in pages]

    async def create_fields(self, project: str, issue_type_id: str) -> list[CreateMetaField]:
        """The fields of the create screen of ``issue_type_id`` in ``project``."""
        path = await self._api(
            f"issue/createmeta/{path_part(project)}/issuetypes/{path_part(issue_type_id)}"
        )
        pages = self._offset_pages(path, items_key=("fields", "values"))
        return [CreateMetaField.model_validate(raw) async for raw in pages]
