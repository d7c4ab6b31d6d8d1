"""Single-issue operations: read, create, edit, delete, assign, transition, labels, comments,
links, remote links, entity properties, and the user look-ups needed to assign."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from jirabridge.errors import ApiNotFoundError, ValidationError
from jirabridge.jira.core import JiraCore, comma_list, path_part, text_body
from jirabridge.jira.models import (
    ChangelogEntry,
    Comment,
    CreatedIssue,
    EntityProperty,
    Issue,
    RemoteLink,
    Transition,
    User,
)

__all__ = ["IssuesMixin"]

_MAX_PROPERTY_KEY = 255
#: System fields that REST v3 wants as ADF; a plain string given for them is wrapped.
_RICH_TEXT_FIELDS = ("description", "environment")


def _check_property_key(key: str) -> str:
    if not key or len(key) > _MAX_PROPERTY_KEY:
        raise ValidationError("an entity property key must be 1-255 characters")
    return key


class IssuesMixin(JiraCore):
    """Operations on one issue at a time."""

    async def get_issue(
        self,
        key: str,
        *,
        fields: Iterable[str] | str | None = None,
        expand: Iterable[str] | str | None = None,
        properties: Iterable[str] | str | None = None,
    ) -> Issue:
        """``GET /issue/{key}``: a consistent read (unlike search, it never lags writes)."""
        data = await self._get(
            await self._api(f"issue/{path_part(key)}"),
            {
                "fields": comma_list(fields),
                "expand": comma_list(expand),
                "properties": comma_list(properties),
            },
        )
        return Issue.model_validate(data)

    async def create_issue(
        self,
        fields: Mapping[str, Any],
        *,
        update: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> CreatedIssue:
        """``POST /issue``, sent once and never retried blindly.

        Use :meth:`~jirabridge.jira.creation.CreationMixin.create_issue_once` when a lost answer
        must not turn into a duplicate.
        """
        body = self._issue_body(
            await self._rich_fields(fields), update=update, properties=properties
        )
        data = await self._send("POST", await self._api("issue"), json=body, idempotent=False)
        return CreatedIssue.model_validate(data)

    async def _rich_fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``fields`` with plain-text rich-text fields turned into ADF on REST v3."""
        version = await self.api_version()
        out = dict(fields)
        for name in _RICH_TEXT_FIELDS:
            if isinstance(out.get(name), str):
                out[name] = text_body(out[name], api_version=version)
        return out

    def _issue_body(
        self,
        fields: Mapping[str, Any],
        *,
        update: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"fields": dict(fields)}
        if update:
            body["update"] = dict(update)
        if properties:
            body["properties"] = [
                {"key": _check_property_key(k), "value": v} for k, v in properties.items()
            ]
        return body

    async def edit_issue(
        self,
        key: str,
        *,
        fields: Mapping[str, Any] | None = None,
        update: Mapping[str, Any] | None = None,
        notify_users: bool = True,
    ) -> None:
        """``PUT /issue/{key}``: set ``fields`` and apply ``update`` operations."""
        if not fields and not update:
            raise ValidationError("edit_issue needs fields or update operations")
        body: dict[str, Any] = {}
        if fields:
            body["fields"] = await self._rich_fields(fields)
        if update:
            body["update"] = dict(update)
        await self._send(
            "PUT",
            await self._api(f"issue/{path_part(key)}"),
            json=body,
            params={"notifyUsers": None if notify_users else False},
            issue_key=key,
        )

    async def delete_issue(self, key: str, *, delete_subtasks: bool = False) -> None:
        """``DELETE /issue/{key}``; sub-tasks go too only when ``delete_subtasks``."""
        await self._send(
            "DELETE",
            await self._api(f"issue/{path_part(key)}"),
            params={"deleteSubtasks": True if delete_subtasks else None},
            issue_key=key,
        )

    async def assign_issue(self, key: str, user: User | str | None) -> None:
        """``PUT /issue/{key}/assignee``. ``user`` is a :class:`User`, an accountId (Cloud) or
        username (Data Center); None unassigns."""
        cloud = await self.is_cloud()
        if isinstance(user, User):
            body: dict[str, Any] = user.reference()
        elif user is None:
            body = {"accountId": None} if cloud else {"name": None}
        else:
            body = {"accountId": user} if cloud else {"name": user}
        await self._send(
            "PUT", await self._api(f"issue/{path_part(key)}/assignee"), json=body, issue_key=key
        )

    async def changelog(self, key: str) -> AsyncIterator[ChangelogEntry]:
        """The issue's history, oldest first (Cloud pages ``/changelog``; Data Center reads
        ``expand=changelog``, which holds it all)."""
        if await self.is_cloud():
            path = await self._api(f"issue/{path_part(key)}/changelog")
            async for raw in self._offset_pages(path, page_size=100):
                yield ChangelogEntry.model_validate(raw)
            return
        issue = await self.get_issue(key, fields=["created"], expand=["changelog"])
        for entry in issue.history():
            yield entry

    async def transitions(self, key: str) -> list[Transition]:
        """The transitions the caller may take on the issue now."""
        data = await self._get(await self._api(f"issue/{path_part(key)}/transitions"))
        return [Transition.model_validate(t) for t in data.get("transitions", [])]

    async def transition_issue(
        self,
        key: str,
        transition_id: str,
        *,
        fields: Mapping[str, Any] | None = None,
        update: Mapping[str, Any] | None = None,
    ) -> None:
        """``POST /issue/{key}/transitions``: move the issue along its workflow."""
        body: dict[str, Any] = {"transition": {"id": str(transition_id)}}
        if fields:
            body["fields"] = dict(fields)
        if update:
            body["update"] = dict(update)
        # Re-sending a transition that was applied fails harmlessly (it is no longer
        # available), so it is safe to treat as idempotent.
        await self._send(
            "POST",
            await self._api(f"issue/{path_part(key)}/transitions"),
            json=body,
            issue_key=key,
            idempotent=True,
        )

    async def add_labels(self, key: str, *labels: str) -> None:
        """Add labels without touching the others (an ``update`` operation, not a set)."""
        await self._edit_labels(key, "add", labels)

    async def remove_labels(self, key: str, *labels: str) -> None:
        """Remove labels without touching the others."""
        await self._edit_labels(key, "remove", labels)

    async def _edit_labels(self, key: str, op: str, labels: Sequence[str]) -> None:
        if not labels:
            raise ValidationError("give at least one label")
        for label in labels:
            if not label or any(ch.isspace() for ch in label):
                raise ValidationError(f"Jira labels cannot be empty or contain spaces: {label!r}")
        await self.edit_issue(key, update={"labels": [{op: label} for label in labels]})

    async def comments(self, key: str) -> list[Comment]:
        """Every comment on the issue, oldest first."""
        path = await self._api(f"issue/{path_part(key)}/comment")
        return [
            Comment.model_validate(c)
            async for c in self._offset_pages(path, items_key="comments", page_size=100)
        ]

    async def add_comment(
        self, key: str, body: str | dict[str, Any], *, visibility: Mapping[str, str] | None = None
    ) -> Comment:
        """``POST /issue/{key}/comment``. A string becomes plain ADF on v3."""
        payload: dict[str, Any] = {"body": text_body(body, api_version=await self.api_version())}
        if visibility:
            payload["visibility"] = dict(visibility)
        data = await self._send(
            "POST",
            await self._api(f"issue/{path_part(key)}/comment"),
            json=payload,
            issue_key=key,
            idempotent=False,
        )
        return Comment.model_validate(data)

    async def update_comment(
        self, key: str, comment_id: str, body: str | dict[str, Any]
    ) -> Comment:
        """``PUT /issue/{key}/comment/{id}``."""
        data = await self._send(
            "PUT",
            await self._api(f"issue/{path_part(key)}/comment/{path_part(comment_id)}"),
            json={"body": text_body(body, api_version=await self.api_version())},
            issue_key=key,
        )
        return Comment.model_validate(data)

    async def delete_comment(self, key: str, comment_id: str) -> None:
        """``DELETE /issue/{key}/comment/{id}``."""
        await self._send(
            "DELETE",
            await self._api(f"issue/{path_part(key)}/comment/{path_part(comment_id)}"),
            issue_key=key,
        )

    async def link_issues(
        self, link_type: str, *, inward: str, outward: str, comment: str | None = None
    ) -> None:
        """``POST /issueLink``: ``inward`` <link_type inward text> ``outward`` (e.g. "Blocks")."""
        body: dict[str, Any] = {
            "type": {"name": link_type},
            "inwardIssue": {"key": inward},
            "outwardIssue": {"key": outward},
        }
        if comment:
            body["comment"] = {"body": text_body(comment, api_version=await self.api_version())}
        # Jira refuses an identical second link with no harm done, so a re-send cannot duplicate.
        await self._send("POST", await self._api("issueLink"), json=body, idempotent=True)

    async def delete_issue_link(self, link_id: str) -> None:
        """``DELETE /issueLink/{id}``."""
        await self._send("DELETE", await self._api(f"issueLink/{path_part(link_id)}"))

    async def remote_links(self, key: str) -> list[RemoteLink]:
        """The remote (web) links of an issue."""
        data = await self._get(await self._api(f"issue/{path_part(key)}/remotelink"))
        return [RemoteLink.model_validate(x) for x in data]

    async def add_remote_link(
        self,
        key: str,
        *,
        url: str,
        title: str,
        global_id: str | None = None,
        relationship: str | None = None,
        summary: str | None = None,
    ) -> RemoteLink:
        """``POST /issue/{key}/remotelink``.

        With a ``global_id`` Jira updates the existing link instead of adding another, which makes
        the call idempotent; without one, a re-send would add a second link.
        """
        obj: dict[str, Any] = {"url": url, "title": title}
        if summary:
            obj["summary"] = summary
        body: dict[str, Any] = {"object": obj}
        if global_id:
            body["globalId"] = global_id
        if relationship:
            body["relationship"] = relationship
        data = await self._send(
            "POST",
            await self._api(f"issue/{path_part(key)}/remotelink"),
            json=body,
            issue_key=key,
            idempotent=global_id is not None,
        )
        return RemoteLink.model_validate({**body, **(data or {})})

    async def delete_remote_link(self, key: str, global_id: str) -> None:
        """``DELETE /issue/{key}/remotelink?globalId=``."""
        await self._send(
            "DELETE",
            await self._api(f"issue/{path_part(key)}/remotelink"),
            params={"globalId": global_id},
            issue_key=key,
        )

    async def get_issue_property(self, key: str, property_key: str) -> EntityProperty | None:
        """An issue property, or None when the issue has no such property."""
        try:
            data = await self._get(
                await self._api(
                    f"issue/{path_part(key)}/properties/{path_part(_check_property_key(property_key))}"
                )
            )
        except ApiNotFoundError:
            return None
        return EntityProperty.model_validate(data)

    async def set_issue_property(self, key: str, property_key: str, value: Any) -> None:
        """``PUT /issue/{key}/properties/{propertyKey}`` (any JSON value, ≤ 32 KB)."""
        await self._send(
            "PUT",
            await self._api(
                f"issue/{path_part(key)}/properties/{path_part(_check_property_key(property_key))}"
            ),
            json=value,
            issue_key=key,
        )

    async def delete_issue_property(self, key: str, property_key: str) -> None:
        """``DELETE /issue/{key}/properties/{propertyKey}``."""
        await self._send(
            "DELETE",
            await self._api(
                f"issue/{path_part(key)}/properties/{path_part(_check_property_key(property_key))}"
            ),
            issue_key=key,
        )

    async def search_users(self, query: str, *, max_results: int = 50) -> list[User]:
        """Users matching ``query`` (name or email). Data Center calls the argument ``username``."""
        cloud = await self.is_cloud()
        params: dict[str, Any] = {"maxResults": max_results}
        params["query" if cloud else "username"] = query
        data = await self._get(await self._api("user/search"), params)
        return [User.model_validate(u) for u in data]

    async def assignable_users(
        self,
        *,
        project: str | None = None,
        issue_key: str | None = None,
        query: str | None = None,
        max_results: int = 50,
    ) -> list[User]:
        """Users who may be assigned issues of ``project`` (or the issue ``issue_key``)."""
        if not project and not issue_key:
            raise ValidationError("assignable_users needs a project or an issue key")
        cloud = await self.is_cloud()
        params: dict[str, Any] = {
            "project": project,
            "issueKey": issue_key,
            "maxResults": max_results,
        }
        if query is not None:
            params["query" if cloud else "username"] = query
        data = await self._get(await self._api("user/assignable/search"), params)
        return [User.model_validate(u) for u in data]
