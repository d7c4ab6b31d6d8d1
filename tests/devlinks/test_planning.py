"""The pure planners: key links, remote link plans, Smart Commit parsing and planning."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jirabridge.errors import ValidationError
from jirabridge.sync.devlinks import (
    CommitRef,
    PullRequestState,
    SmartCommandKind,
    commits_from_push,
    links_for_commit,
    parse_duration,
    parse_smart_commit,
    plan_pull_request_links,
    plan_smart_commit,
    pull_request_from_event,
    pull_request_global_id,
)
from jirabridge.sync.devlinks.links import RemoteLinkSnapshot

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks" / "github"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())  # type: ignore[no-any-return]


def pr_event(name: str = "pull_request.opened.json", **changes: Any) -> dict[str, Any]:
    payload = fixture(name)
    pr = payload["pull_request"]
    for field, value in changes.items():
        if field == "branch":
            pr["head"]["ref"] = value
        else:
            pr[field] = value
    return payload


def test_a_fixture_pull_request_without_keys_plans_nothing() -> None:
    pr = pull_request_from_event(fixture("pull_request.opened.json"))
    assert pr.repo == "Codertocat/Hello-World"
    assert pr.state is PullRequestState.OPEN
    plan = plan_pull_request_links(pr, action="opened")
    assert plan.links == ()
    assert plan.empty


def test_keys_from_title_branch_and_body_are_grouped_with_their_places() -> None:
    pr = pull_request_from_event(
        pr_event(
            title="DEMO-1: fix the README (see CVE-2024-1234)",
            branch="feature/DEMO-1-and-DEMO-2",
            body="Also touches PLAT-9, encoded in UTF-8, hash SHA-256.",
        )
    )
    plan = plan_pull_request_links(pr, action="opened", projects=["DEMO"])
    assert [(link.issue_key, link.found_in) for link in plan.links] == [
        ("DEMO-1", ("title", "branch")),
        ("DEMO-2", ("branch",)),
    ]
    assert {a.issue_key for a in plan.remote_links} == {"DEMO-1", "DEMO-2"}
    assert {a.global_id for a in plan.remote_links} == {
        pull_request_global_id("Codertocat/Hello-World", 2)
    }
    assert plan.comments == ()


def test_an_up_to_date_link_is_not_resent_but_a_changed_one_is() -> None:
    pr = pull_request_from_event(pr_event(title="DEMO-1 readme", branch="DEMO-2"))
    first = plan_pull_request_links(pr, action="opened")
    have = {
        a.issue_key: RemoteLinkSnapshot(url=a.url, title=a.title, summary=a.summary)
        for a in first.remote_links
    }
    again = plan_pull_request_links(pr, action="synchronize", existing=have)
    assert again.empty
    assert set(again.up_to_date) == {"DEMO-1", "DEMO-2"}

    merged = pull_request_from_event(
        pr_event("pull_request.closed.json", title="DEMO-1 readme", branch="DEMO-2", merged=True)
    )
    assert merged.state is PullRequestState.MERGED
    after = plan_pull_request_links(merged, action="closed", existing=have)
    assert [a.summary for a in after.remote_links] == ["Pull request merged, branch DEMO-2"] * 2


def test_comments_only_at_chosen_milestones_and_once() -> None:
    pr = pull_request_from_event(pr_event(title="DEMO-1"))
    plan = plan_pull_request_links(pr, action="opened", comment_on=["opened"])
    assert [c.external_id for c in plan.comments] == ["pr:Codertocat/Hello-World#2:DEMO-1:opened"]
    done = [c.external_id for c in plan.comments]
    assert (
        plan_pull_request_links(
            pr, action="opened", comment_on=["opened"], already_commented=done
        ).comments
        == ()
    )
    assert plan_pull_request_links(pr, action="edited", comment_on=["opened"]).comments == ()
    closed = pull_request_from_event(pr_event("pull_request.closed.json", title="DEMO-1"))
    assert closed.state is PullRequestState.CLOSED
    assert plan_pull_request_links(closed, action="closed", comment_on=["merged"]).comments == ()


def test_commit_links_and_push_parsing() -> None:
    payload = fixture("push.json")
    payload["commits"] = [
        {
            "id": "a" * 40,
            "message": "DEMO-3 fix\n\nrefs WEB-4, not ISO-8601",
            "timestamp": "2026-11-20T10:00:00Z",
            "url": "https://github.com/Codertocat/Hello-World/commit/aaa",
            "author": {"name": "Ada", "email": "Ada@Example.com"},
        }
    ]
    (commit,) = commits_from_push(payload)
    assert commit.timestamp == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert [link.issue_key for link in links_for_commit(commit)] == ["DEMO-3", "WEB-4"]
    assert commits_from_push(fixture("push.json")) == []


def test_a_payload_without_a_pull_request_is_refused_clearly() -> None:
    with pytest.raises(ValidationError, match="pull_request"):
        pull_request_from_event(fixture("push.json"))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1w 2d 4h 30m", (40 + 16 + 4) * 3600 + 1800), ("90m", 5400), ("1.5h", 5400), ("1D", 28800)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2x", "0m", "h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_duration(text)


@given(
    st.integers(min_value=0, max_value=9),
    st.integers(0, 9),
    st.integers(0, 9),
    st.integers(0, 59),
)
def test_duration_adds_its_parts(w: int, d: int, h: int, m: int) -> None:
    parts = [f"{n}{u}" for n, u in ((w, "w"), (d, "d"), (h, "h"), (m, "m")) if n]
    expected = ((w * 5 + d) * 8 + h) * 3600 + m * 60
    if not parts:
        return
    assert parse_duration(" ".join(parts)) == expected


def test_smart_commit_commands_per_key_and_line() -> None:
    message = (
        "DEMO-1 DEMO-2 #comment fixed the README #time 1h 30m tidied docs\n"
        "unrelated line #comment not for any key\n"
        "DEMO-3 #start-progress picking this up"
    )
    commands = parse_smart_commit(message)
    assert [(c.issue_key, c.kind, c.text, c.seconds) for c in commands] == [
        ("DEMO-1", SmartCommandKind.COMMENT, "fixed the README", None),
        ("DEMO-2", SmartCommandKind.COMMENT, "fixed the README", None),
        ("DEMO-1", SmartCommandKind.TIME, "tidied docs", 5400),
        ("DEMO-2", SmartCommandKind.TIME, "tidied docs", 5400),
        ("DEMO-3", SmartCommandKind.TRANSITION, "picking this up", None),
    ]
    assert commands[-1].transition == "start progress"


def test_a_bad_time_names_its_line() -> None:
    with pytest.raises(ValidationError, match="line 2"):
        parse_smart_commit("intro\nDEMO-1 #time soon")


COMMIT = CommitRef(
    repo="o/r",
    sha="b" * 40,
    message="",
    url="https://github.com/o/r/commit/bbb",
    author_email="ada@example.com",
    author_name="Ada",
    timestamp=datetime(2026, 11, 20, tzinfo=UTC),
)


def test_plan_needs_exactly_one_jira_user() -> None:
    commands = parse_smart_commit("DEMO-1 #comment hi")
    none = plan_smart_commit(COMMIT, commands, users_by_email={}, transitions={})
    assert none.steps == ()
    assert "no Jira user" in none.errors[0]
    two = plan_smart_commit(
        COMMIT, commands, users_by_email={"ada@example.com": ["a", "b"]}, transitions={}
    )
    assert two.steps == ()
    assert "2 Jira users" in two.errors[0]


def test_plan_matches_transitions_and_skips_done_steps() -> None:
    commands = parse_smart_commit("DEMO-1 #comment hi #time 2h #in-prog #fly")
    users = {"ada@example.com": ["acc-1"]}
    transitions = {"DEMO-1": {"In Progress": "21", "Done": "31"}}
    plan = plan_smart_commit(COMMIT, commands, users_by_email=users, transitions=transitions)
    assert plan.author_account_id == "acc-1"
    assert [(s.kind, s.transition_id) for s in plan.steps] == [
        (SmartCommandKind.COMMENT, None),
        (SmartCommandKind.TIME, None),
        (SmartCommandKind.TRANSITION, "21"),
    ]
    assert plan.errors == ("DEMO-1: no transition 'fly' is available",)
    assert plan.steps[1].seconds == 7200
    assert plan.steps[1].started == COMMIT.timestamp

    replay = plan_smart_commit(
        COMMIT,
        commands,
        users_by_email=users,
        transitions=transitions,
        already_done=[plan.steps[0].external_id],
        allow_transitions=False,
    )
    assert [s.kind for s in replay.steps] == [SmartCommandKind.TIME]
    assert replay.skipped == (plan.steps[0].external_id,)
