"""The export planner: pure, deterministic, and it decides create / update / unchanged."""

from __future__ import annotations

from jirabridge.sync.stories import ExportProfile, PriorWrite, parse_stories, plan_export

from .test_parse import YAML

CLOUD = ExportProfile(namespace="team-1", project="ACME")
DC = ExportProfile(namespace="team-1", project="ACME", flavor="datacenter")


def _types(node: object) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            found.add(node["type"])
        for value in node.values():
            found |= _types(value)
    elif isinstance(node, list):
        for value in node:
            found |= _types(value)
    return found


def test_cloud_plan_epics_first_with_adf_task_list() -> None:
    plan = plan_export(parse_stories(YAML, "yaml"), CLOUD)
    assert plan.ok
    assert [(i.item_id, i.level, i.action) for i in plan.issues] == [
        ("E1", "epic", "create"),
        ("S1", "story", "create"),
        ("S2", "story", "create"),
    ]
    s1 = plan.issues[1]
    assert s1.parent_item == "E1"
    assert s1.external_id == "team-1/S1"
    assert s1.fields["customfield_10016"] == 3
    assert s1.fields["priority"] == {"name": "High"}
    assert s1.fields["labels"] == ["payments", "jirabridge-export"]
    assert {"taskList", "taskItem"} <= _types(s1.fields["description"])
    assert "Visa and Mastercard are accepted" in s1.preview
    assert "As a shopper" in s1.preview


def test_bullets_setting_gives_a_bullet_list() -> None:
    profile = CLOUD.model_copy(update={"criteria_style": "bullets"})
    s1 = plan_export(parse_stories(YAML, "yaml"), profile).issues[1]
    assert "bulletList" in _types(s1.fields["description"])
    assert "taskList" not in _types(s1.fields["description"])


def test_datacenter_plan_uses_wiki_and_epic_name() -> None:
    plan = plan_export(parse_stories(YAML, "yaml"), DC)
    epic, s1 = plan.issues[0], plan.issues[1]
    assert epic.fields["customfield_10011"] == "Checkout"
    assert isinstance(s1.fields["description"], str)
    assert "h3. Acceptance criteria" in s1.fields["description"]
    assert "* Visa and Mastercard are accepted" in s1.fields["description"]


def test_prior_writes_decide_update_and_unchanged() -> None:
    stories = parse_stories(YAML, "yaml")
    first = plan_export(stories, CLOUD)
    prior = {
        i.item_id: PriorWrite(i.item_id, f"ACME-{n}", i.fingerprint, "confirmed", "create")
        for n, i in enumerate(first.issues, start=1)
    }
    again = plan_export(stories, CLOUD, prior)
    assert [i.action for i in again.issues] == ["unchanged"] * 3
    edited = parse_stories(YAML.replace("Pay by card", "Pay by card or wallet"), "yaml")
    third = plan_export(edited, CLOUD, prior)
    assert [(i.item_id, i.action, i.key) for i in third.issues] == [
        ("E1", "unchanged", "ACME-1"),
        ("S1", "update", "ACME-2"),
        ("S2", "unchanged", "ACME-3"),
    ]
    # A rolled-back item is created afresh.
    gone = {**prior, "S2": PriorWrite("S2", "ACME-3", "x", "confirmed", "delete")}
    assert plan_export(stories, CLOUD, gone).issues[2].action == "create"


def test_plan_is_deterministic() -> None:
    stories = parse_stories(YAML, "yaml")
    assert plan_export(stories, CLOUD).to_dict() == plan_export(stories, CLOUD).to_dict()


def test_required_fields_are_reported_until_the_profile_fills_them() -> None:
    stories = parse_stories(YAML, "yaml")
    required = {"Story": ["summary", "customfield_10500"]}
    plan = plan_export(stories, CLOUD, required_fields=required)
    assert {p.item_id for p in plan.problems} == {"S1", "S2"}
    assert plan.problems[0].line == 6
    filled = CLOUD.model_copy(update={"extra_fields": {"customfield_10500": "x"}})
    assert plan_export(stories, filled, required_fields=required).ok


def test_file_problems_carry_into_the_plan() -> None:
    stories = parse_stories("stories:\n  - id: S1\n    title: ''\n", "yaml")
    plan = plan_export(stories, CLOUD)
    assert not plan.ok
    assert plan.problems[0].item_id == "S1"
    assert plan.to_dict()["problems"][0]["line"] == 2
