"""Pieces of the export service that need no network: the stored plan and its id, the
metadata cache's TTL, and the mapping defaults picked from createmeta."""

from __future__ import annotations

from typing import Any

from jirabridge.service.stories import MetadataCache, mapping_from_meta
from jirabridge.sync.stories import ExportProfile, parse_stories, plan_export
from jirabridge.sync.stories.snapshot import plan_from_json, plan_id, plan_to_json

from .test_export_sim import YAML

PROFILE = ExportProfile(namespace="t", project="DEMO")


def test_a_stored_plan_reads_back_equal_with_the_same_id() -> None:
    plan = plan_export(parse_stories(YAML, "yaml"), PROFILE)
    again = plan_from_json(plan_to_json(plan))
    assert again.issues == plan.issues
    assert again.profile == plan.profile
    assert plan_id(again) == plan_id(plan)


def test_the_plan_id_changes_with_the_file_or_the_profile() -> None:
    plan = plan_export(parse_stories(YAML, "yaml"), PROFILE)
    edited = plan_export(parse_stories(YAML.replace("Checkout", "Check-out"), "yaml"), PROFILE)
    other = plan_export(
        parse_stories(YAML, "yaml"), PROFILE.model_copy(update={"criteria_style": "bullets"})
    )
    assert len({plan_id(plan), plan_id(edited), plan_id(other)}) == 3


async def test_metadata_is_reused_until_the_ttl_or_a_refresh() -> None:
    now = [0.0]
    loads: list[int] = []
    cache = MetadataCache(ttl=300, clock=lambda: now[0])

    async def load() -> int:
        loads.append(1)
        return len(loads)

    assert await cache.get(("c", "projects"), load) == 1
    now[0] = 299
    assert await cache.get(("c", "projects"), load) == 1
    assert await cache.get(("c", "projects"), load, refresh=True) == 2
    now[0] = 700
    assert await cache.get(("c", "projects"), load) == 3
    assert await cache.get(("other", "projects"), load) == 4


def test_mapping_defaults_from_createmeta() -> None:
    def field(fid: str, required: bool = False, default: bool = False) -> dict[str, Any]:
        return {"id": fid, "name": fid, "required": required, "has_default": default}

    meta = {
        "project": "DEMO",
        "flavor": "datacenter",
        "issue_types": [
            {"id": "1", "name": "Epic", "subtask": False, "hierarchy_level": 1},
            {"id": "2", "name": "User Story", "subtask": False, "hierarchy_level": 0},
            {"id": "3", "name": "Subtarea", "subtask": True, "hierarchy_level": -1},
        ],
        "fields": {
            "Epic": [field("summary", True), field("customfield_1", True)],
            "User Story": [field("summary", True), field("priority", True, default=True)],
        },
        "site_fields": [
            {"id": "customfield_7", "name": "Story Points", "custom": True, "schema": {}},
            {
                "id": "customfield_9",
                "name": "Epic Link",
                "custom": True,
                "schema": {"custom": "com.pyxis.greenhopper.jira:gh-epic-link"},
            },
        ],
    }
    mapping = mapping_from_meta(meta)
    assert mapping["levels"] == {"epic": "Epic", "story": None, "task": None, "subtask": "Subtarea"}
    assert mapping["required"] == {"Epic": ["summary", "customfield_1"], "User Story": ["summary"]}
    assert mapping["story_points_field"] == {"id": "customfield_7", "name": "Story Points"}
    assert mapping["epic_link_field"] == {"id": "customfield_9", "name": "Epic Link"}
    assert mapping["epic_name_field"] is None
