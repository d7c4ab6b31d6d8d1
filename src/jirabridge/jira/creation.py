"""Issue creation that never duplicates: one at a time, and in bulk (``/issue/bulk``).

The design (docs/decisions/0150-exactly-once-issue-create.md): each create carries an issue
property ``jirabridge.external-id`` set in the same request, so an issue we made can be proven
ours by a consistent read. After an ambiguous failure (no answer, or a 5xx that may have been
applied) we look before we re-send: a JQL search narrowed to issues *we* created in the project
within the last minutes, asking for that property; search lags writes by seconds, so it is polled
a bounded number of times. Only when every poll comes back without our id is the create sent
again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from jirabridge.errors import ApiError, TransportError, ValidationError, api_error_for_status
from jirabridge.jira.core import EXTERNAL_ID_PROPERTY
from jirabridge.jira.issues import IssuesMixin
from jirabridge.jira.models import BulkCreateItem, CreatedIssue, Issue
from jirabridge.jira.search import SearchMixin

__all__ = [
    "BULK_CREATE_MAX",
    "EXTERNAL_ID_PROPERTY",
    "CreationMixin",
    "IssueInput",
    "ReconcilePolicy",
]

#: Jira's ceiling for one ``/issue/bulk`` call.
BULK_CREATE_MAX = 50


@dataclass(frozen=True)
class ReconcilePolicy:
    """How hard to look for a write whose answer was lost.

    ``attempts`` searches, ``delay`` seconds apart: Jira's search index lags writes by seconds,
    so one empty search proves little. ``window_minutes`` bounds the ``created`` range searched.
    ``max_sends`` caps how many times one create is sent in all.
    """

    attempts: int = 5
    delay: float = 2.0
    window_minutes: int = 15
    max_sends: int = 3


@dataclass
class IssueInput:
    """One issue to create: its ``fields`` (``project``, ``issuetype``, ``summary``...)."""

    fields: Mapping[str, Any]
    update: Mapping[str, Any] | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    #: Our id for it; generated when absent. Stamped as the ``jirabridge.external-id`` property.
    external_id: str | None = None


def _project_of(fields: Mapping[str, Any]) -> str:
    project = fields.get("project")
    if isinstance(project, Mapping):
        value = project.get("key") or project.get("id")
        if value:
            return str(value)
    raise ValidationError("an issue to create needs fields.project with a key or id")


def _jql_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _stamp(external_id: str) -> dict[str, str]:
    return {"externalId": external_id}


def _stamped_id(issue: Issue) -> str | None:
    value = (issue.properties or {}).get(EXTERNAL_ID_PROPERTY)
    if isinstance(value, Mapping):
        found = value.get("externalId")
        return str(found) if found is not None else None
    return None


class CreationMixin(IssuesMixin, SearchMixin):
    """Exactly-once issue create and chunked bulk create."""

    reconcile_policy: ReconcilePolicy = ReconcilePolicy()

    async def create_issue_once(
        self,
        fields: Mapping[str, Any],
        *,
        external_id: str,
        update: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> CreatedIssue:
        """Create an issue exactly once, even when the answer to the create is lost.

        ``external_id`` must be unique to this issue in the caller's world (e.g. a story id):
        it is what proves, after a lost answer, that an issue is the one we asked for.
        """
        if not external_id:
            raise ValidationError("create_issue_once needs a non-empty external_id")
        project = _project_of(fields)
        props = {**(properties or {}), EXTERNAL_ID_PROPERTY: _stamp(external_id)}
        body = self._issue_body(await self._rich_fields(fields), update=update, properties=props)
        path = await self._api("issue")

        async def reconcile() -> CreatedIssue | None:
            summary = fields.get("summary")
            wanted = {external_id: summary if isinstance(summary, str) else None}
            found = await self.find_created_issues(project, wanted)
            return found.get(external_id)

        return await self._http.write_once(
            "POST",
            path,
            json=body,
            parse=lambda response: CreatedIssue.model_validate(response.json()),
            reconcile=reconcile,
        )

    async def find_created_issues(
        self, project: str, wanted: Mapping[str, str | None]
    ) -> dict[str, CreatedIssue]:
        """Find the issues this user created in ``project`` carrying these external ids.

        ``wanted`` maps each external id to the summary it was created with (None if unknown).
        Search narrows the field to recent issues we created; the property proves which is
        which. Where search does not return properties (some Data Center versions), candidates
        with the expected summary are checked with a consistent property read. Polls search
        (bounded by :attr:`reconcile_policy`) because the index lags, and returns as soon as
        every id is found.
        """
        policy = self.reconcile_policy
        found: dict[str, CreatedIssue] = {}
        by_summary: dict[str, set[str]] = {}
        for external_id, summary in wanted.items():
            if summary is not None:
                by_summary.setdefault(summary, set()).add(external_id)
        checked: set[str] = set()
        jql = (
            f"project = {_jql_string(project)} AND creator = currentUser() "
            f'AND created >= "-{policy.window_minutes}m" ORDER BY created DESC'
        )
        for attempt in range(policy.attempts):
            if attempt:
                await self._sleep(policy.delay)
            async for issue in self.search(
                jql,
                fields=["summary", "created"],
                properties=[EXTERNAL_ID_PROPERTY],
                strategy="pages",
            ):
                if issue.properties is not None:
                    stamped = _stamped_id(issue)
                elif issue.key not in checked and issue.summary in by_summary:
                    checked.add(issue.key)
                    stamped = await self.issue_external_id(issue.key)
                else:
                    continue
                if stamped is not None and stamped in wanted and stamped not in found:
                    found[stamped] = CreatedIssue(id=issue.id, key=issue.key)
            if wanted.keys() <= found.keys():
                break
        return found

    async def bulk_create(self, issues: Sequence[IssueInput]) -> list[BulkCreateItem]:
        """Create many issues, 50 per call, each result at its input's position.

        Partial failures are reported per item (``ok`` False with Jira's messages) rather than
        raised. A call whose answer is lost is reconciled first, and only the inputs not found
        in Jira are sent again.
        """
        results: list[BulkCreateItem | None] = [None] * len(issues)
        prepared: list[tuple[int, str, dict[str, Any], str]] = []
        for index, item in enumerate(issues):
            external_id = item.external_id or f"bulk-{uuid.uuid4()}"
            props = {**item.properties, EXTERNAL_ID_PROPERTY: _stamp(external_id)}
            fields = await self._rich_fields(item.fields)
            body = self._issue_body(fields, update=item.update, properties=props)
            prepared.append((index, external_id, body, _project_of(item.fields)))
        for start in range(0, len(prepared), BULK_CREATE_MAX):
            chunk = prepared[start : start + BULK_CREATE_MAX]
            for result in await self._bulk_chunk(chunk):
                results[result.index] = result
        return [r for r in results if r is not None]

    async def _bulk_chunk(
        self, chunk: list[tuple[int, str, dict[str, Any], str]]
    ) -> list[BulkCreateItem]:
        path = await self._api("issue/bulk")
        pending = list(chunk)
        done: list[BulkCreateItem] = []
        sends = 0
        while pending:
            sends += 1
            if sends > 1:
                await self._sleep(self._http.retry.backoff(sends - 1))
            try:
                response = await self._http.request(
                    "POST",
                    path,
                    json={"issueUpdates": [body for _, _, body, _ in pending]},
                    idempotent=False,
                    raise_for_status=False,
                )
            except TransportError as exc:
                # No answer: some of the chunk may exist already. Look, then re-send only what
                # is missing.
                pending = await self._after_ambiguous(pending, done, exc, sends)
                continue
            data = _json_body(response)
            if response.status_code >= 500:
                error = _api_error(response)
                pending = await self._after_ambiguous(pending, done, error, sends)
                continue
            if response.status_code == 400 and isinstance(data.get("errors"), list):
                # Every element failed; Jira still answers in the per-item shape.
                done.extend(_map_bulk_answer(pending, data))
                break
            if response.status_code in (400, 422):
                # Refused as a whole, nothing created: each input carries the reason.
                error = _api_error(response)
                done.extend(_failed(p[0], error) for p in pending)
                break
            if response.status_code >= 400:
                raise _api_error(response)
            done.extend(_map_bulk_answer(pending, data))
            pending = []
        return done

    async def _after_ambiguous(
        self,
        pending: list[tuple[int, str, dict[str, Any], str]],
        done: list[BulkCreateItem],
        exc: ApiError | TransportError,
        sends: int,
    ) -> list[tuple[int, str, dict[str, Any], str]]:
        adopted = await self._adopt_created(pending)
        done.extend(adopted)
        adopted_positions = {item.index for item in adopted}
        still = [p for p in pending if p[0] not in adopted_positions]
        if still and sends >= self.reconcile_policy.max_sends:
            done.extend(_failed(p[0], exc) for p in still)
            return []
        return still

    async def _adopt_created(
        self, pending: list[tuple[int, str, dict[str, Any], str]]
    ) -> list[BulkCreateItem]:
        by_project: dict[str, dict[str, str | None]] = {}
        for _, external_id, body, project in pending:
            summary = body["fields"].get("summary")
            by_project.setdefault(project, {})[external_id] = (
                summary if isinstance(summary, str) else None
            )
        found: dict[str, CreatedIssue] = {}
        for project, ids in by_project.items():
            found.update(await self.find_created_issues(project, ids))
        return [
            BulkCreateItem(index=index, issue=found[external_id])
            for index, external_id, _, _ in pending
            if external_id in found
        ]

    async def issue_external_id(self, key: str) -> str | None:
        """The external id stamped on an issue at create time (a consistent read), if any."""
        prop = await self.get_issue_property(key, EXTERNAL_ID_PROPERTY)
        if prop is None or not isinstance(prop.value, Mapping):
            return None
        value = prop.value.get("externalId")
        return str(value) if value is not None else None


def _json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _api_error(response: httpx.Response) -> ApiError:
    """The exception-tree error for an error answer we asked the HTTP core not to raise."""
    body = _json_body(response)
    messages = [str(m) for m in body.get("errorMessages") or []]
    errors = body.get("errors")
    fields = {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}
    method, status = response.request.method, response.status_code
    path = response.request.url.path
    return api_error_for_status(status)(
        f"{method} {path} answered {status}" + (": " + "; ".join(messages[:3]) if messages else ""),
        status=status,
        method=method,
        url=path,
        error_messages=messages,
        field_errors=fields,
    )


def _failed(index: int, exc: ApiError | TransportError) -> BulkCreateItem:
    return BulkCreateItem(
        index=index,
        status=getattr(exc, "status", None),
        error_messages=[f"not created: {exc.message}", *getattr(exc, "error_messages", [])],
        field_errors=dict(getattr(exc, "field_errors", {})),
    )


def _map_bulk_answer(
    sent: list[tuple[int, str, dict[str, Any], str]], data: Mapping[str, Any]
) -> list[BulkCreateItem]:
    """Jira lists created issues in input order, skipping failures, and names failures by
    their position in the request (``failedElementNumber``)."""
    failures: dict[int, Mapping[str, Any]] = {}
    for error in data.get("errors", []) or []:
        position = error.get("failedElementNumber")
        if isinstance(position, int):
            failures[position] = error
    created = iter(data.get("issues", []) or [])
    out: list[BulkCreateItem] = []
    for position, (index, _, _, _) in enumerate(sent):
        if position in failures:
            error = failures[position]
            element = error.get("elementErrors") or {}
            out.append(
                BulkCreateItem(
                    index=index,
                    status=error.get("status"),
                    error_messages=list(element.get("errorMessages") or []),
                    field_errors=dict(element.get("errors") or {}),
                )
            )
            continue
        raw = next(created, None)
        if raw is None:
            out.append(BulkCreateItem(index=index, error_messages=["missing from Jira's answer"]))
        else:
            out.append(BulkCreateItem(index=index, issue=CreatedIssue.model_validate(raw)))
    return out
