"""A blocking facade over :class:`JiraClient` for scripts and notebooks.

It owns a private event loop (:class:`asyncio.Runner`) and runs the *same* async methods on it:
each facade attribute is a typed descriptor wrapping the async method, not a second copy of it.
Async iterators become generators that pull one item at a time, so streaming stays streaming.
Do not call it from inside a running event loop; use :class:`JiraClient` there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, Unpack, overload

from jirabridge.errors import ConfigError
from jirabridge.jira.client import ClientOptions, JiraClient
from jirabridge.jira.settings import JiraSettings

__all__ = ["SyncJiraClient"]

P = ParamSpec("P")
R = TypeVar("R")


class _Blocking(Generic[P, R]):
    """Descriptor: ``facade.op(...)`` runs ``JiraClient.op`` to completion on the private loop."""

    def __init__(
        self, method: Callable[Concatenate[JiraClient, P], Coroutine[Any, Any, R]]
    ) -> None:
        self._method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, obj: None, owner: type[SyncJiraClient]) -> Self: ...
    @overload
    def __get__(self, obj: SyncJiraClient, owner: type[SyncJiraClient]) -> Callable[P, R]: ...
    def __get__(
        self, obj: SyncJiraClient | None, owner: type[SyncJiraClient]
    ) -> Callable[P, R] | Self:
        if obj is None:
            return self
        facade = obj

        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return facade._run(self._method(facade.client, *args, **kwargs))

        call.__doc__ = self._method.__doc__
        return call


class _Streaming(Generic[P, R]):
    """Descriptor: ``facade.op(...)`` turns the async iterator ``JiraClient.op`` into a
    generator."""

    def __init__(self, method: Callable[Concatenate[JiraClient, P], AsyncIterator[R]]) -> None:
        self._method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, obj: None, owner: type[SyncJiraClient]) -> Self: ...
    @overload
    def __get__(
        self, obj: SyncJiraClient, owner: type[SyncJiraClient]
    ) -> Callable[P, Iterator[R]]: ...
    def __get__(
        self, obj: SyncJiraClient | None, owner: type[SyncJiraClient]
    ) -> Callable[P, Iterator[R]] | Self:
        if obj is None:
            return self
        facade = obj

        def call(*args: P.args, **kwargs: P.kwargs) -> Iterator[R]:
            return facade._iterate(self._method(facade.client, *args, **kwargs))

        call.__doc__ = self._method.__doc__
        return call


class SyncJiraClient:
    """Blocking Jira client: the async client's operations, run on a private event loop.

    ``with SyncJiraClient.from_env() as jira: print(jira.myself().display_name)``
    """

    def __init__(self, client_factory: Callable[[], JiraClient]) -> None:
        self._runner = asyncio.Runner()
        # The async client (and its httpx pool) must be born on the loop that will drive it.
        self.client: JiraClient = self._run(_make(client_factory))

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, **options: Unpack[ClientOptions]
    ) -> Self:
        """Configured from ``JIRA_*`` variables, like :meth:`JiraClient.from_env`."""
        settings = JiraSettings.from_env(env)
        return cls(lambda: JiraClient.from_settings(settings, **options))

    def _run(self, awaitable: Coroutine[Any, Any, R]) -> R:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._runner.run(awaitable)
        awaitable.close()
        raise ConfigError("SyncJiraClient cannot run inside an event loop; use JiraClient")

    def _iterate(self, iterator: AsyncIterator[R]) -> Iterator[R]:
        async def step() -> tuple[bool, R | None]:
            try:
                return True, await anext(iterator)
            except StopAsyncIteration:
                return False, None

        while True:
            more, item = self._run(step())
            if not more:
                return
            yield item  # type: ignore[misc]

    def close(self) -> None:
        """Close the HTTP pool and the private loop."""
        try:
            self._run(self.client.aclose())
        finally:
            self._runner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Metadata and connection
    test_connection = _Blocking(JiraClient.test_connection)
    server_info = _Blocking(JiraClient.server_info)
    myself = _Blocking(JiraClient.myself)
    projects = _Blocking(JiraClient.projects)
    get_project = _Blocking(JiraClient.get_project)
    fields = _Blocking(JiraClient.fields)
    create_issue_types = _Blocking(JiraClient.create_issue_types)
    create_fields = _Blocking(JiraClient.create_fields)
    # Issues
    get_issue = _Blocking(JiraClient.get_issue)
    create_issue = _Blocking(JiraClient.create_issue)
    create_issue_once = _Blocking(JiraClient.create_issue_once)
    bulk_create = _Blocking(JiraClient.bulk_create)
    edit_issue = _Blocking(JiraClient.edit_issue)
    delete_issue = _Blocking(JiraClient.delete_issue)
    assign_issue = _Blocking(JiraClient.assign_issue)
    changelog = _Streaming(JiraClient.changelog)
    transitions = _Blocking(JiraClient.transitions)
    transition_issue = _Blocking(JiraClient.transition_issue)
    add_labels = _Blocking(JiraClient.add_labels)
    remove_labels = _Blocking(JiraClient.remove_labels)
    comments = _Blocking(JiraClient.comments)
    add_comment = _Blocking(JiraClient.add_comment)
    update_comment = _Blocking(JiraClient.update_comment)
    delete_comment = _Blocking(JiraClient.delete_comment)
    link_issues = _Blocking(JiraClient.link_issues)
    delete_issue_link = _Blocking(JiraClient.delete_issue_link)
    remote_links = _Blocking(JiraClient.remote_links)
    add_remote_link = _Blocking(JiraClient.add_remote_link)
    delete_remote_link = _Blocking(JiraClient.delete_remote_link)
    get_issue_property = _Blocking(JiraClient.get_issue_property)
    set_issue_property = _Blocking(JiraClient.set_issue_property)
    delete_issue_property = _Blocking(JiraClient.delete_issue_property)
    search_users = _Blocking(JiraClient.search_users)
    assignable_users = _Blocking(JiraClient.assignable_users)
    # Search
    search = _Streaming(JiraClient.search)
    fetch_issues = _Streaming(JiraClient.fetch_issues)
    approximate_count = _Blocking(JiraClient.approximate_count)
    # Worklogs
    worklogs = _Streaming(JiraClient.worklogs)
    get_worklog = _Blocking(JiraClient.get_worklog)
    add_worklog = _Blocking(JiraClient.add_worklog)
    add_worklog_once = _Blocking(JiraClient.add_worklog_once)
    update_worklog = _Blocking(JiraClient.update_worklog)
    delete_worklog = _Blocking(JiraClient.delete_worklog)
    worklogs_updated = _Streaming(JiraClient.worklogs_updated)
    worklogs_deleted = _Streaming(JiraClient.worklogs_deleted)
    worklogs_by_ids = _Blocking(JiraClient.worklogs_by_ids)
    # Agile
    boards = _Streaming(JiraClient.boards)
    board_sprints = _Streaming(JiraClient.board_sprints)
    get_sprint = _Blocking(JiraClient.get_sprint)
    sprint_issues = _Streaming(JiraClient.sprint_issues)
    backlog_issues = _Streaming(JiraClient.backlog_issues)
    board_epics = _Streaming(JiraClient.board_epics)
    epic_issues = _Streaming(JiraClient.epic_issues)
    create_sprint = _Blocking(JiraClient.create_sprint)
    update_sprint = _Blocking(JiraClient.update_sprint)
    start_sprint = _Blocking(JiraClient.start_sprint)
    close_sprint = _Blocking(JiraClient.close_sprint)
    move_issues_to_sprint = _Blocking(JiraClient.move_issues_to_sprint)
    move_issues_to_backlog = _Blocking(JiraClient.move_issues_to_backlog)
    # Dynamic webhooks
    register_webhooks = _Blocking(JiraClient.register_webhooks)
    webhooks = _Streaming(JiraClient.webhooks)
    refresh_webhooks = _Blocking(JiraClient.refresh_webhooks)
    delete_webhooks = _Blocking(JiraClient.delete_webhooks)


async def _make(factory: Callable[[], JiraClient]) -> JiraClient:
    return factory()
