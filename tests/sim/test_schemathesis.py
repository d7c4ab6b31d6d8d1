"""Generated requests (schemathesis) for implemented operations, against the spec.

Schemathesis builds requests from Atlassian's spec for the operations the simulator implements;
the app runs with the validating middleware, so any accepted request or returned body that
breaks the spec fails the test. Few examples per operation keep this fast.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from jirabridge.sim.app import build_routes
from jirabridge.sim.spec import load_specs
from sim.simkit import make_app

APP = make_app()
RUNTIME = APP.state.sim


# Writes whose generated bodies are worth sending (each must end in a clean 2xx or 4xx).
_WRITES = {
    ("POST", "/rest/api/3/search/jql"),
    ("POST", "/rest/api/3/search/approximate-count"),
    ("POST", "/rest/api/3/issue/bulkfetch"),
    ("POST", "/rest/api/3/worklog/list"),
    ("POST", "/rest/api/3/issue"),
    ("POST", "/rest/api/3/issue/bulk"),
    ("PUT", "/rest/api/3/issue/{issueIdOrKey}"),
    ("POST", "/rest/api/3/issue/{issueIdOrKey}/worklog"),
    ("POST", "/rest/api/3/issue/{issueIdOrKey}/comment"),
    ("POST", "/rest/api/3/issue/{issueIdOrKey}/transitions"),
    ("POST", "/rest/api/3/issueLink"),
    ("POST", "/rest/api/3/issue/{issueIdOrKey}/remotelink"),
}


def _implemented() -> set[tuple[str, str]]:
    return {
        (m, r.spec_path)
        for r in build_routes("cloud")
        if r.spec == "platform" and r.spec_path is not None
        for m in (r.methods or ())
        if m in ("GET",) or (m, r.spec_path) in _WRITES
    }


def _schema() -> Any:
    doc = json.loads(json.dumps(load_specs().docs["platform"]))
    wanted = _implemented()
    doc["paths"] = {
        path: {m: op for m, op in ops.items() if (m.upper(), path) in wanted}
        for path, ops in doc["paths"].items()
        if any((m.upper(), path) in wanted for m in ops)
    }
    return schemathesis.openapi.from_dict(doc)


schema = _schema()


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_generated_requests(case: Any) -> None:
    # Point path parameters at things that exist half the time, so handlers run past lookups.
    for name in ("issueIdOrKey",):
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = "DEMO-3"
    if case.path_parameters and "projectIdOrKey" in case.path_parameters:
        case.path_parameters["projectIdOrKey"] = "DEMO"
    response = case.call(app=APP, headers={"Authorization": _basic()})
    assert response.status_code < 500, response.text


def _basic() -> str:
    import base64

    raw = f"{RUNTIME.admin_email}:{RUNTIME.admin_token}".encode()
    return "Basic " + base64.b64encode(raw).decode()
