"""The whole path against the simulator (Cloud and Data Center) on the test databases:
export, re-export an edited file, crash mid-export then finish, roll back."""

from __future__ import annotations

import httpx
import pytest

from jirabridge.errors import ValidationError
from jirabridge.store.ledger import WriteLedger
from jirabridge.sync.stories import (
    ExportResult,
    ItemResult,
    StoryFile,
    apply_export,
    apply_rollback,
    parse_stories,
    plan_export,
    plan_rollback,
    prior_state,
)
from jirabridge.sync.stories.rollback import fetch_current, refresh_status

from .conftest import Site, make_client
from .test_parse import YAML

SITE = "sim"


def many(epics: int, per_epic: int) -> str:
    lines = ["epics:"]
    for e in range(epics):
        lines += [f"  - id: E{e}", f"    title: Epic {e}", "    stories:"]
        for s in range(per_epic):
            lines += [
                f"      - id: S{e}-{s}",
                f"        title: Story {e}-{s}",
                "        story: As a user I want it so that it works",
                "        acceptance_criteria: [It works]",
                "        points: 2",
            ]
    return "\n".join(lines) + "\n"


async def export(site: Site, ledger: WriteLedger, stories: StoryFile) -> ExportResult:
    ids = [i.id for i in [*stories.epics, *stories.stories]]
    prior = await prior_state(ledger, SITE, site.profile, ids)
    plan = plan_export(stories, site.profile, prior)
    return await apply_export(plan, jira=site.jira, ledger=ledger, site=SITE)


async def no_sleep(_: float) -> None:
    return None


async def test_export_creates_linked_issues_with_progress(site: Site, ledger: WriteLedger) -> None:
    stories = parse_stories(YAML, "yaml")
    plan = plan_export(stories, site.profile)
    seen: list[ItemResult] = []
    result = await apply_export(
        plan, jira=site.jira, ledger=ledger, site=SITE, progress=seen.append
    )
    assert result.ok
    assert result.counts() == {"created": 3}
    assert [r.item_id for r in seen] == ["E1", "S1", "S2"]
    keys = {r.item_id: r.key for r in result.results}
    story = await site.jira.get_issue(keys["S1"] or "")
    epic_link = "parent" if site.flavor == "cloud" else "customfield_10014"
    linked = story.fields[epic_link]
    assert (linked["key"] if isinstance(linked, dict) else linked) == keys["E1"]
    assert story.fields["customfield_10016"] == 3
    assert story.summary == "Pay by card"
    assert [c["name"] for c in story.fields["components"]] == ["web"]
    stamped = site.stamped()
    assert sorted(stamped) == ["team-1/E1", "team-1/S1", "team-1/S2"]
    assert all(len(v) == 1 for v in stamped.values())


async def test_reexport_of_an_edited_file_updates_in_place(site: Site, ledger: WriteLedger) -> None:
    first = await export(site, ledger, parse_stories(YAML, "yaml"))
    before = len(site.runtime.site.issues)
    edited = parse_stories(YAML.replace("Pay by card", "Pay by card or wallet"), "yaml")
    second = await export(site, ledger, edited)
    assert second.counts() == {"unchanged": 2, "updated": 1}
    assert len(site.runtime.site.issues) == before
    s1 = next(r for r in second.results if r.item_id == "S1")
    assert s1.key == next(r.key for r in first.results if r.item_id == "S1")
    assert (await site.jira.get_issue(s1.key or "")).summary == "Pay by card or wallet"
    third = await export(site, ledger, edited)
    assert third.counts() == {"unchanged": 3}


class Crash(Exception):
    """The process dying: not an HTTP failure the client would handle."""


class CrashAfterBulk(httpx.AsyncBaseTransport):
    """Forwards to the sim; the ``n``th bulk create is applied and then the process 'dies'."""

    def __init__(self, inner: httpx.AsyncBaseTransport, n: int) -> None:
        self.inner, self.n, self.bulks = inner, n, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/issue/bulk"):
            self.bulks += 1
            if self.bulks == self.n:
                await response.aread()
                raise Crash
        return response


async def test_crash_mid_export_then_a_clean_finish(site: Site, ledger: WriteLedger) -> None:
    stories = parse_stories(many(3, 40), "yaml")  # 3 epics, 120 stories: 4 story chunks
    crashing = make_client(site.app, site.flavor, CrashAfterBulk(httpx.ASGITransport(site.app), 3))
    plan = plan_export(stories, site.profile)
    with pytest.raises(Crash):
        await apply_export(plan, jira=crashing, ledger=ledger, site=SITE, chunk_size=50)
    await crashing.aclose()
    # Epics and the first story chunk landed and were confirmed; the second chunk was applied
    # by Jira but its answer died with the process.
    assert len(site.stamped()) == 3 + 50 + 50
    result = await export(site, ledger, stories)
    assert result.ok
    assert len(result.results) == 123
    stamped = site.stamped()
    assert len(stamped) == 123
    assert [k for k, v in stamped.items() if len(v) > 1] == []


async def test_rollback_dry_run_refuses_edited_and_deletes_the_rest(
    site: Site, ledger: WriteLedger
) -> None:
    stories = parse_stories(YAML, "yaml")
    plan = plan_export(stories, site.profile)
    result = await apply_export(plan, jira=site.jira, ledger=ledger, site=SITE)
    keys = {r.item_id: r.key or "" for r in result.results}
    await site.jira.edit_issue(keys["S2"], fields={"summary": "Someone changed me"})
    current = await fetch_current(site.jira, list(keys.values()))
    dry = plan_rollback(plan, result, current)
    assert [(s.item_id, s.action) for s in dry.steps] == [
        ("S1", "delete"),
        ("S2", "refuse"),
        ("E1", "delete"),
    ]
    assert len(site.stamped()) == 3  # the dry run wrote nothing
    outcome = await apply_rollback(dry, jira=site.jira, ledger=ledger, site=SITE)
    assert outcome == {"S1": "done", "S2": "refuse", "E1": "done"}
    assert sorted(site.stamped()) == ["team-1/S2"]
    forced = plan_rollback(plan, result, await fetch_current(site.jira, [keys["S2"]]), force=True)
    assert [s.action for s in forced.steps if s.item_id == "S2"] == ["delete"]
    # After a rollback, exporting again creates fresh issues rather than updating deleted ones.
    again = await export(site, ledger, stories)
    assert again.counts() == {"created": 2, "unchanged": 1}


async def test_label_rollback(site: Site, ledger: WriteLedger) -> None:
    stories = parse_stories(YAML, "yaml")
    plan = plan_export(stories, site.profile)
    result = await apply_export(plan, jira=site.jira, ledger=ledger, site=SITE)
    keys = [r.key or "" for r in result.results]
    rollback = plan_rollback(plan, result, await fetch_current(site.jira, keys), mode="label")
    await apply_rollback(rollback, jira=site.jira, ledger=ledger, site=SITE)
    for key in keys:
        labels = (await site.jira.get_issue(key)).fields["labels"]
        assert "jirabridge-rolled-back" in labels


async def test_a_plan_with_problems_is_not_applied(site: Site, ledger: WriteLedger) -> None:
    stories = parse_stories("stories:\n  - id: S1\n    title: ''\n", "yaml")
    with pytest.raises(ValidationError):
        await apply_export(
            plan_export(stories, site.profile), jira=site.jira, ledger=ledger, site=SITE
        )
    assert site.stamped() == {}


async def test_status_refresh_reads_the_current_status(site: Site, ledger: WriteLedger) -> None:
    result = await export(site, ledger, parse_stories(YAML, "yaml"))
    keys = [r.key or "" for r in result.results]
    before = await refresh_status(site.jira, keys)
    assert set(before.values()) == {"To Do"}
    moves = await site.jira.transitions(keys[1])
    done = next(t for t in moves if t.to is not None and t.to.name == "Done")
    await site.jira.transition_issue(keys[1], done.id)
    await site.jira.delete_issue(keys[2])
    after = await refresh_status(site.jira, keys)
    assert after == {keys[0]: "To Do", keys[1]: "Done", keys[2]: None}


class DropBulkAnswer(httpx.AsyncBaseTransport):
    """The ``n``th bulk create is applied by Jira but its answer is lost (connection drop)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, n: int) -> None:
        self.inner, self.n, self.bulks = inner, n, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/issue/bulk"):
            self.bulks += 1
            if self.bulks == self.n:
                await response.aread()
                raise httpx.ReadError("connection dropped after the write", request=request)
        return response


async def test_a_lost_bulk_answer_is_reconciled_not_resent(site: Site, ledger: WriteLedger) -> None:
    stories = parse_stories(many(1, 60), "yaml")
    dropping = make_client(site.app, site.flavor, DropBulkAnswer(httpx.ASGITransport(site.app), 2))
    plan = plan_export(stories, site.profile)
    result = await apply_export(plan, jira=dropping, ledger=ledger, site=SITE)
    await dropping.aclose()
    assert result.counts() == {"created": 61}
    stamped = site.stamped()
    assert len(stamped) == 61
    assert [k for k, v in stamped.items() if len(v) > 1] == []


class Refuse503(httpx.AsyncBaseTransport):
    """The ``n``th bulk create answers 503 without reaching Jira (nothing applied)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, n: int) -> None:
        self.inner, self.n, self.bulks = inner, n, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/issue/bulk"):
            self.bulks += 1
            if self.bulks == self.n:
                return httpx.Response(503, json={"errorMessages": ["busy"]}, request=request)
        return await self.inner.handle_async_request(request)


async def test_a_5xx_bulk_answer_is_looked_up_then_resent(site: Site, ledger: WriteLedger) -> None:
    stories = parse_stories(many(1, 10), "yaml")
    refusing = make_client(site.app, site.flavor, Refuse503(httpx.ASGITransport(site.app), 2))
    plan = plan_export(stories, site.profile)
    result = await apply_export(plan, jira=refusing, ledger=ledger, site=SITE)
    await refusing.aclose()
    assert result.counts() == {"created": 11}
    assert len(site.stamped()) == 11
