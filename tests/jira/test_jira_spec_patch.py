"""The request validator's view of Atlassian's spec: patched as little as needed, and sound."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_core.exceptions import OpenAPIError

from jirabridge.sim.spec import load_specs, spec_document

from support.jira_spec_validation import HOST, load_platform_spec_checked, validate_request


def _defaults_outside_their_enum(node: Any) -> int:
    if isinstance(node, dict):
        own = int("enum" in node and "default" in node and node["default"] not in node["enum"])
        return own + sum(_defaults_outside_their_enum(v) for v in node.values())
    if isinstance(node, list):
        return sum(_defaults_outside_their_enum(v) for v in node)
    return 0


def test_exactly_the_four_known_bad_defaults_are_dropped() -> None:
    # The simulator's loader is the tests' loader too: one set of patches.
    assert load_specs().patched == {"platform": 4, "software": 0}
    assert _defaults_outside_their_enum(spec_document("platform")) == 0
    assert _defaults_outside_their_enum(spec_document("software")) == 0


@pytest.mark.slow
def test_patched_platform_spec_is_a_valid_openapi_document() -> None:
    # Validating the 2.4 MB document takes most of a minute; the per-test loader skips it.
    load_platform_spec_checked()


def _request(method: str, path: str, body: object = None, **params: str) -> httpx.Request:
    return httpx.Request(method, f"{HOST}{path}", params=params, json=body)


def test_the_validator_accepts_good_requests_and_refuses_bad_ones() -> None:
    good = {"started": "2026-11-20T09:00:00.000+0000", "timeSpentSeconds": 60}
    validate_request(_request("POST", "/rest/api/3/issue/ED-1/worklog", good, notifyUsers="false"))
    validate_request(_request("GET", "/rest/agile/1.0/board/1/sprint", state="active,closed"))
    with pytest.raises(OpenAPIError):
        validate_request(
            _request("POST", "/rest/api/3/issue/ED-1/worklog", {**good, "started": "today"})
        )
    with pytest.raises(OpenAPIError):
        validate_request(
            _request("POST", "/rest/api/3/issue/ED-1/worklog", {**good, "timeSpentSeconds": "1h"})
        )
    with pytest.raises(OpenAPIError):
        validate_request(
            _request("GET", "/rest/api/3/issue/ED-1/worklog", startedAfter="yesterday")
        )
    with pytest.raises(OpenAPIError):
        validate_request(_request("POST", "/rest/api/3/no/such/endpoint", {}))
