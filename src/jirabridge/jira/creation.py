"""Issue creation that never duplicates: one at a time, and in bulk (``/issue/bulk``).

The design (docs/decisions/0150-exactly-once-issue-create.md): each create carries an issue
property ``jirabridge.external-id`` set in the same request, so an issue we made can be proven
ours by a consistent read. After an ambiguous failure (no answer, or a 5xx that may have been
applied) we look once before we re-send: after waiting for the search index to catch up
(it lags writes by seconds), one JQL search narrowed to issues *we* created in the project
after the newest key we already know, asking for that property. Only the inputs it does not
find are sent again. This is the one reconcile path: the stories executor uses it too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncGenerator, Mapping, MutableMapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, cast

import httpx

from jirabridge.errors import ApiError, TransportError, ValidationError, api_error_for_status
from jirabridge.jira.core import EXTERNAL_ID_PROPERTY
from jirabridge.jira.issues import IssuesMixin
from jirabridge.jira.jql import jql_string
from jirabridge.jira.models import BulkCreateItem, CreatedIssue, Issue
from jirabridge.jira.search import SearchMixin

__all__ = [
    "BULK_CREATE_MAX",
    "EXTERNAL_ID_PROPERTY",
    "CreationMixin",
    "IssueInput",
    "ReconcilePolicy",
    "newer_key",
]

#: Jira's ceiling for one ``/issue/bulk`` call.
BULK_CREATE_MAX = 50

#: One bulk input ready to send: (position, external id, request body, project).
_Prepared = tuple[int, str, dict[str, Any], str]


@dataclass(frozen=True)
class ReconcilePolicy:
    """How to look for a write whose answer was lost.

    Jira's search index lags writes by seconds, so an immediate empty search proves little;
    waiting ``settle`` seconds first and searching once costs one call where polling costs
    several (most ambiguous failures were never applied, and polling only stops early for the
    ones that were). ``attempts`` > 1 adds searches ``delay`` seconds apart, for a site known
    to lag longer than ``settle``. ``window_minutes`` bounds the ``created`` range searched.
    ``max_sends`` caps how many times one create is sent in all.
    """

    settle: float = 5.0
    attempts: int = 1
    delay: float = 5.0
    window_minutes: int = 15
    max_sends: int = 3

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.max_sends < 1 or self.window_minutes < 1:
            raise ValidationError("attempts, max_sends and window_minutes must be at least 1")
        if self.settle < 0 or self.delay < 0:
            raise ValidationError("settle and delay must not be negative")


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


_KEY = re.compile(r"^(.+)-(\d+)$")


def newer_key(a: str | None, b: str | None) -> str | None:
    """The later of two keys of one project (higher issue number), ignoring ``None``."""
    if a is None or b is None:
        return a or b
    ma, mb = _KEY.match(a), _KEY.match(b)
    if ma is None or mb is None or ma.group(1) != mb.group(1):
        return a
    return a if int(ma.group(2)) >= int(mb.group(2)) else b


def _project_of_key(key: str) -> str | None:
    match = _KEY.match(key)
    return match.group(1) if match else None


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
        after_key: str | None = None,
    ) -> CreatedIssue:
        """Create an issue exactly once, even when the answer to the create is lost.

        ``external_id`` must be unique to this issue in the caller's world (e.g. a story id):
        it is what proves, after a lost answer, that an issue is the one we asked for.
        ``after_key``, a key of the project known to exist before this call, narrows the
        look-up after a lost answer to newer issues.
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
            found = await self.find_created_issues(project, wanted, after_key=after_key)
            return found.get(external_id)

        return await self._http.write_once(
            "POST",
            path,
            json=body,
            parse=lambda response: CreatedIssue.model_validate(response.json()),
            reconcile=reconcile,
        )

    async def find_created_issues(
        self,
        project: str,
        wanted: Mapping[str, str | None],
        *,
        after_key: str | None = None,
        window_minutes: int | None = None,
        policy: ReconcilePolicy | None = None,
    ) -> dict[str, CreatedIssue]:
        """Find the issues this user created in ``project`` carrying these external ids.

        ``wanted`` maps each external id to the summary it was created with (None if unknown).
        ``after_key`` (a key of ``project`` that existed before the writes in question) narrows
        the search to newer issues, so one page answers it; ``window_minutes`` (default: the
        policy's) bounds how far back ``created`` may go. The search narrows, the property
        proves which is which: where search does not return properties (some Data Center
        versions), candidates with the expected summary are checked with a consistent property
        read. Waits :attr:`ReconcilePolicy.settle` for the index first and searches
        :attr:`ReconcilePolicy.attempts` times at most, stopping as soon as every id is found.
        """
        policy = policy or self.reconcile_policy
        found: dict[str, CreatedIssue] = {}
        if not wanted:
            return found
        by_summary: dict[str, set[str]] = {}
        for external_id, summary in wanted.items():
            if summary is not None:
                by_summary.setdefault(summary, set()).add(external_id)
        checked: set[str] = set()
        window = window_minutes or policy.window_minutes
        jql = (
            f"project = {jql_string(project)} AND creator = currentUser() "
            f'AND created >= "-{window}m"'
        )
        if after_key is not None and _project_of_key(after_key) is not None:
            jql += f" AND key > {jql_string(after_key)}"
        # Newest first: a lost write is among the newest issues, so paging can stop early.
        jql += " ORDER BY key DESC"
        for attempt in range(policy.attempts):
            wait = policy.settle if attempt == 0 else policy.delay
            if wait > 0:
                await self._sleep(wait)
            # search is an async generator: closing it when we stop early releases its page.
            results = cast(
                AsyncGenerator[Issue, None],
                self.search(
                    jql,
                    fields=["summary"],
                    properties=[EXTERNAL_ID_PROPERTY],
                    strategy="pages",
                ),
            )
            async with aclosing(results):
                async for issue in results:
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
            if wanted.keys() <= found.keys():
                break
        return found

    async def bulk_create(
        self,
        issues: Sequence[IssueInput],
        *,
        policy: ReconcilePolicy | None = None,
        after_keys: Mapping[str, str] | None = None,
    ) -> list[BulkCreateItem]:
        """Create many issues, 50 per call, each result at its input's position.

        Partial failures are reported per item (``ok`` False with Jira's messages) rather than
        raised. A call whose answer is lost (no answer, or a 5xx) is looked up once (see
        :meth:`find_created_issues`) and only the inputs not found are sent again, up to
        ``policy.max_sends`` sends (default: :attr:`reconcile_policy`). An input whose fate is
        still open after that, or whose look-up itself failed, comes back ``unknown``.
        ``after_keys`` (project -> a key known to exist there before this call) narrows the
        look-ups; later chunks narrow by the keys earlier ones created.
        """
        policy = policy or self.reconcile_policy
        anchors: dict[str, str] = dict(after_keys or {})
        results: list[BulkCreateItem | None] = [None] * len(issues)
        prepared: list[_Prepared] = []
        for index, item in enumerate(issues):
            external_id = item.external_id or f"bulk-{uuid.uuid4()}"
            props = {**item.properties, EXTERNAL_ID_PROPERTY: _stamp(external_id)}
            fields = await self._rich_fields(item.fields)
            body = self._issue_body(fields, update=item.update, properties=props)
            prepared.append((index, external_id, body, _project_of(item.fields)))
        for start in range(0, len(prepared), BULK_CREATE_MAX):
            chunk = prepared[start : start + BULK_CREATE_MAX]
            for result in await self._bulk_chunk(chunk, policy, anchors):
                results[result.index] = result
        return [r for r in results if r is not None]

    async def _bulk_chunk(
        self,
        chunk: list[_Prepared],
        policy: ReconcilePolicy,
        anchors: MutableMapping[str, str],
    ) -> list[BulkCreateItem]:
        path = await self._api("issue/bulk")
        project_of = {p[0]: p[3] for p in chunk}
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
                pending = await self._after_ambiguous(pending, done, exc, sends, policy, anchors)
                continue
            data = _json_body(response)
            if response.status_code >= 500:
                error = _api_error(response)
                pending = await self._after_ambiguous(pending, done, error, sends, policy, anchors)
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
        for item in done:
            if item.issue is not None:
                project = project_of[item.index]
                anchors[project] = newer_key(anchors.get(project), item.issue.key) or item.issue.key
        return done

    async def _after_ambiguous(
        self,
        pending: list[_Prepared],
        done: list[BulkCreateItem],
        exc: ApiError | TransportError,
        sends: int,
        policy: ReconcilePolicy,
        anchors: Mapping[str, str],
    ) -> list[_Prepared]:
        try:
            adopted = await self._adopt_created(pending, policy, anchors)
        except (TransportError, ApiError) as lookup:
            # Not knowing is not "not applied": re-sending could duplicate. The caller (or its
            # ledger, on a later run) must look again.
            done.extend(_unknown(p[0], exc, lookup) for p in pending)
            return []
        done.extend(adopted)
        adopted_positions = {item.index for item in adopted}
        still = [p for p in pending if p[0] not in adopted_positions]
        if still and sends >= policy.max_sends:
            done.extend(_unknown(p[0], exc, None) for p in still)
            return []
        return still

    async def _adopt_created(
        self,
        pending: list[_Prepared],
        policy: ReconcilePolicy,
        anchors: Mapping[str, str],
    ) -> list[BulkCreateItem]:
        by_project: dict[str, dict[str, str | None]] = {}
        for _, external_id, body, project in pending:
            summary = body["fields"].get("summary")
            by_project.setdefault(project, {})[external_id] = (
                summary if isinstance(summary, str) else None
            )
        found: dict[str, CreatedIssue] = {}
        for project, ids in by_project.items():
            found.update(
                await self.find_created_issues(
                    project, ids, after_key=anchors.get(project), policy=policy
                )
            )
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


def _unknown(
    index: int, exc: ApiError | TransportError, lookup: ApiError | TransportError | None
) -> BulkCreateItem:
    why = f"; the look-up failed too: {lookup.message}" if lookup is not None else ""
    return BulkCreateItem(
        index=index,
        status=getattr(exc, "status", None),
        error_messages=[f"no definite answer from Jira ({exc.message}){why}"],
        unknown=True,
    )


def _failed(index: int, exc: ApiError | TransportError) -> BulkCreateItem:
    return BulkCreateItem(
        index=index,
        status=getattr(exc, "status", None),
        error_messages=[f"not created: {exc.message}", *getattr(exc, "error_messages", [])],
        field_errors=dict(getattr(exc, "field_errors", {})),
    )


def _map_bulk_answer(sent: list[_Prepared], data: Mapping[str, Any]) -> list[BulkCreateItem]:
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
