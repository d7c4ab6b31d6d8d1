"""Reading stories files: the three formats agree, and problems name the item and line."""

from __future__ import annotations

import json

import pytest

from jirabridge.errors import ValidationError
from jirabridge.sync.stories import parse_stories
from jirabridge.sync.stories.parse import detect_format

YAML = """\
epics:
  - id: E1
    title: Checkout
    description: Paying for the basket.
    stories:
      - id: S1
        title: Pay by card
        story: As a shopper I want to pay by card so that I can check out quickly
        acceptance_criteria:
          - Visa and Mastercard are accepted
          - A decline is explained
        priority: High
        labels: [payments]
        points: 3
        components: [web]
stories:
  - id: S2
    title: Loose story
    epic: E1
"""

MARKDOWN = """\
# Epic: Checkout {#E1}
Paying for the basket.

## Story: Pay by card {#S1}
As a shopper I want to pay by card so that I can check out quickly
Priority: High
Labels: payments
Points: 3
Components: web

### Acceptance criteria
- [ ] Visa and Mastercard are accepted
- A decline is explained

## Story: Loose story {#S2}
"""


def test_yaml_reads_nesting_and_fields() -> None:
    result = parse_stories(YAML, "yaml")
    assert result.ok, result.problems
    assert [e.id for e in result.epics] == ["E1"]
    s1, s2 = result.stories
    assert s1.epic == "E1"
    assert s2.epic == "E1"
    assert s1.acceptance_criteria == ["Visa and Mastercard are accepted", "A decline is explained"]
    assert (s1.priority, s1.labels, s1.points, s1.components) == ("High", ["payments"], 3, ["web"])
    assert result.lines["S1"] == 6


def test_json_reads_the_same_as_yaml() -> None:
    import yaml

    data = yaml.safe_load(YAML)
    as_json = parse_stories(json.dumps(data, indent=2), "json")
    as_yaml = parse_stories(YAML, "yaml")
    assert as_json.ok
    assert as_json.epics == as_yaml.epics
    assert as_json.stories == as_yaml.stories


def test_markdown_reads_the_same_as_yaml() -> None:
    md = parse_stories(MARKDOWN, "markdown")
    as_yaml = parse_stories(YAML, "yaml")
    assert md.ok, md.problems
    assert md.epics == as_yaml.epics
    assert md.stories[0] == as_yaml.stories[0]
    assert md.stories[1].id == "S2"
    assert md.stories[1].epic == "E1"
    assert md.lines == {"E1": 1, "S1": 4, "S2": 15}


def test_problems_are_per_item_with_lines() -> None:
    text = """\
epics:
  - id: E1
    title: ""
stories:
  - id: S4
    title: ok
    points: -2
  - id: S1
    title: twin
  - id: S3
    title: orphan
    epic: NOPE
  - id: "bad id"
    title: x
"""
    result = parse_stories(text, "yaml")
    found = {(p.item_id, p.line) for p in result.problems}
    assert ("E1", 2) in found
    assert ("S4", 5) in found  # negative points
    assert ("S3", 10) in found  # unknown epic
    assert ("bad id", 13) in found
    assert not any("duplicate id" in p.message for p in result.problems)
    # The good items are still read: one bad item does not hide the others.
    assert [s.id for s in result.stories] == ["S1", "S3"]


def test_duplicate_ids_are_reported() -> None:
    text = "stories:\n  - id: S1\n    title: a\n  - id: S1\n    title: b\n"
    result = parse_stories(text, "yaml")
    assert [p.item_id for p in result.problems] == ["S1"]
    assert "duplicate id" in result.problems[0].message


def test_syntax_errors_give_a_line() -> None:
    bad_json = parse_stories('{"epics": [\n  {"id": "E1",\n}', "json")
    assert bad_json.problems[0].line == 3
    bad_yaml = parse_stories("epics:\n  - id: E1\n   title: [unclosed\n", "yaml")
    assert bad_yaml.problems[0].line is not None


def test_markdown_heading_without_id_is_a_problem() -> None:
    result = parse_stories("# Epic: No id here\ntext\n", "markdown")
    assert result.problems[0].line == 1
    assert "{#id}" in result.problems[0].message


def test_unknown_fields_are_refused() -> None:
    result = parse_stories("stories:\n  - id: S1\n    title: t\n    colour: red\n", "yaml")
    assert result.problems
    assert result.problems[0].line == 2
    assert "colour" in result.problems[0].message


def test_detect_format() -> None:
    assert detect_format("a.JSON") == "json"
    assert detect_format("a.yml") == "yaml"
    assert detect_format("plan.md") == "markdown"
    with pytest.raises(ValidationError):
        detect_format("a.txt")
