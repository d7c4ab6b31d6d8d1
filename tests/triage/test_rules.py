"""Loading triage rules: a good file, and bad ones reported with their line numbers."""

from __future__ import annotations

import pytest

from jirabridge.sync.triage import TriageRulesError, load_rules

GOOD = """\
teams:
  backend:
    - {jira: acc-ada, github: ada}
    - grace
rules:
  - name: crashes
    match:
      keywords: [crash]
      severity: critical
    actions:
      assign: {team: backend}
      add_labels: [triaged, crash]
      priority: Highest
    stop: true
  - name: docs
    match: {paths: ["docs/*"]}
    actions:
      comment: Thanks!
"""


def test_a_good_file_loads_in_order() -> None:
    rules = load_rules(GOOD)
    assert [(r.name, r.line, r.stop) for r in rules.rules] == [
        ("crashes", 6, True),
        ("docs", 15, False),
    ]
    assert [m.jira for m in rules.teams["backend"]] == ["acc-ada", "grace"]
    first = rules.rules[0]
    assert first.match.keywords == ("crash",)
    assert first.match.severity == ("critical",)
    assert first.actions.assign is not None
    assert first.actions.assign.team == "backend"
    assert rules.rules[1].match.paths == ("docs/*",)


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("", [(1, "the rules file is empty")]),
        ("rules: [\n  - name: x\n", [(2, "not valid YAML")]),
        ("rules:\n  - name: a\n    actions: {}\n", [(3, "actions must do at least one thing")]),
        (
            "rules:\n  - name: a\n    mtach: {}\n    actions: {comment: hi}\n",
            [(3, "unknown key 'mtach' in a rule")],
        ),
        (
            "rules:\n  - name: a\n    actions:\n      assign: {team: nobody}\n",
            [(4, "team 'nobody' is not defined")],
        ),
        (
            "rules:\n  - name: a\n    actions: {comment: x}\n"
            "  - name: a\n    actions: {comment: y}\n",
            [(4, "rule name 'a' is used twice")],
        ),
        (
            "rules:\n  - name: a\n    match: {source: gitlab}\n    actions: {comment: x}\n"
            "    stop: maybe\n",
            [(3, "match.source must be"), (5, "stop must be true or false")],
        ),
        (
            "rules:\n  - name: a\n    actions: {add_labels: [needs triage]}\n",
            [(3, "contains a space")],
        ),
        ("rules:\n  - actions: {comment: x}\n", [(2, "a rule needs 'name'")]),
    ],
)
def test_bad_files_report_every_problem_with_its_line(
    text: str, problems: list[tuple[int, str]]
) -> None:
    with pytest.raises(TriageRulesError) as info:
        load_rules(text)
    got = info.value.problems
    assert len(got) == len(problems), got
    for (line, message), (want_line, want) in zip(got, problems, strict=True):
        assert line == want_line
        assert want in message
    assert f"line {problems[0][0]}" in str(info.value)
