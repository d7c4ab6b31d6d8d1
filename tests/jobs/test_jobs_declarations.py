"""Declaring work without DBOS: workflow ids, queue specs, workflow and step decorators."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jirabridge.errors import ConfigError, ValidationError
from jirabridge.jobs import registry
from jirabridge.jobs.engine import JobsConfig, system_database_url
from jirabridge.jobs.ids import MAX_WORKFLOW_ID_LENGTH, workflow_id

_part = st.one_of(st.text(min_size=1).filter(lambda s: s.strip() != ""), st.integers())


def test_workflow_id_joins_kind_and_parts() -> None:
    built = workflow_id("worklog", "acme.atlassian.net", 17, "r3")
    assert built == "worklog:acme.atlassian.net:17:r3"


def test_workflow_id_escapes_the_separator() -> None:
    assert workflow_id("x", "a:b", "c") != workflow_id("x", "a", "b:c")
    assert workflow_id("x", "a:b") == "x:a%3Ab"
    assert workflow_id("x", "100%") == "x:100%25"


@given(st.lists(_part, min_size=1, max_size=4), st.lists(_part, min_size=1, max_size=4))
def test_different_parts_never_share_an_id(left: list[str | int], right: list[str | int]) -> None:
    if [str(p) for p in left] == [str(p) for p in right]:
        assert workflow_id("k", *left) == workflow_id("k", *right)
    else:
        assert workflow_id("k", *left) != workflow_id("k", *right)


@pytest.mark.parametrize(
    ("kind", "parts"),
    [("", ("a",)), ("a:b", ("c",)), ("k", ()), ("k", ("",)), ("k", (" ",)), ("k", (True,))],
)
def test_bad_workflow_ids_are_refused(kind: str, parts: tuple[object, ...]) -> None:
    with pytest.raises(ValidationError):
        workflow_id(kind, *parts)  # type: ignore[arg-type]


def test_overlong_workflow_ids_are_refused() -> None:
    with pytest.raises(ValidationError, match="longer"):
        workflow_id("k", "x" * MAX_WORKFLOW_ID_LENGTH)


def test_site_queue_needs_a_per_site_limit() -> None:
    with pytest.raises(ConfigError, match="per_site"):
        registry.SiteQueue("no-limits")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"per_site_rate": (0, 1.0)},
        {"per_site_rate": (1, 0.0)},
        {"per_site_concurrency": 0},
        {"per_site_concurrency": 1, "worker_concurrency": 0},
    ],
)
def test_site_queue_limits_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        registry.SiteQueue("q", **kwargs)  # type: ignore[arg-type]


def test_site_queue_names_are_checked() -> None:
    with pytest.raises(ConfigError, match="name"):
        registry.SiteQueue("Bad Name", per_site_concurrency=1)


def test_declaring_a_queue_twice() -> None:
    first = registry.declare_site_queue("decl-twice", per_site_rate=(5, 1.0))
    assert registry.declare_site_queue("decl-twice", per_site_rate=(5, 1.0)) == first
    assert first in registry.declared_queues()
    with pytest.raises(ConfigError, match="other settings"):
        registry.declare_site_queue("decl-twice", per_site_rate=(6, 1.0))


def test_workflows_must_be_async() -> None:
    def not_async() -> None:
        return None

    with pytest.raises(ConfigError, match="async"):
        registry.workflow("decl.sync")(not_async)  # type: ignore[arg-type]


def test_steps_must_be_async() -> None:
    def not_async() -> None:
        return None

    with pytest.raises(ConfigError, match="async"):
        registry.step()(not_async)  # type: ignore[arg-type]


def test_a_workflow_name_belongs_to_one_function() -> None:
    async def first() -> None:
        return None

    async def second() -> None:
        return None

    registry.workflow("decl.owned")(first)
    assert "decl.owned" in registry.declared_workflows()
    with pytest.raises(ConfigError, match="already used"):
        registry.workflow("decl.owned")(second)


@pytest.mark.parametrize("kwargs", [{"retries": -1}, {"backoff_rate": 0.5}, {"name": "Bad Name"}])
def test_step_options_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        registry.step(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("sqlite+aiosqlite:////data/dbos.sqlite", "sqlite:////data/dbos.sqlite"),
        ("sqlite:////data/dbos.sqlite", "sqlite:////data/dbos.sqlite"),
        ("postgresql+asyncpg://u:p@db/jb", "postgresql://u:p@db/jb"),
        ("postgres://u@db/jb", "postgresql://u@db/jb"),
    ],
)
def test_system_database_urls_are_put_in_dbos_form(given_url: str, expected: str) -> None:
    assert system_database_url(given_url) == expected


@pytest.mark.parametrize("bad", ["", "sqlite://", "sqlite:///:memory:", "mysql://u@h/db", "nope"])
def test_bad_system_database_urls_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        system_database_url(bad)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"application_version": " "},
        {"executor_id": ""},
        {"polling_interval_sec": 0.0},
        {"polling_interval_sec": 61.0},
        {"log_level": "LOUD"},
    ],
)
def test_jobs_config_is_checked(kwargs: dict[str, object]) -> None:
    settings: dict[str, object] = {
        "system_database_url": "sqlite:////tmp/dbos.sqlite",
        "application_version": "1",
        "executor_id": "local",
    }
    settings.update(kwargs)
    with pytest.raises(ConfigError):
        JobsConfig(**settings)  # type: ignore[arg-type]


def test_jobs_config_repr_hides_the_password() -> None:
    config = JobsConfig("postgresql://jb:topsecret1@db/jb", "1", "local")
    assert "topsecret1" not in repr(config)
    assert config.system_database_url == "postgresql://jb:topsecret1@db/jb"
