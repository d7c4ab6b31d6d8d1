"""Check requests against Atlassian's own OpenAPI specs (platform v3 and Jira Software).

Used by the fake Jira in these tests so that every request the client sends is validated. The
specs come from the simulator's loader (:func:`jirabridge.sim.spec.spec_document`), which
already drops the platform spec's four enum defaults that no validator accepts, and the
``date-time`` format is the simulator's Jira-aware one: one loader, one set of patches.
openapi-core does the matching and checking here (it resolves concrete paths to operations).
"""

from __future__ import annotations

import copy
import warnings
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from jirabridge.sim.spec import SpecName, jira_date_time, load_specs, spec_document

HOST = "https://jira.test"


def _load(name: SpecName) -> dict[str, Any]:
    # A copy: openapi-core's copy gets our host and, for Jira Software, looser query types.
    spec = copy.deepcopy(spec_document(name))
    spec["servers"] = [{"url": HOST}]
    return spec


# Checking Atlassian's 2.4 MB spec itself takes most of a minute; it is checked once, in
# test_jira_spec_validation.py (marked slow), not every time a test worker loads it.
_CONFIG = Config(extra_format_validators={"date-time": jira_date_time}, spec_validator_cls=None)
_CHECKED_CONFIG = Config(extra_format_validators={"date-time": jira_date_time})


def load_platform_spec_checked() -> OpenAPI:
    """The patched platform spec, validated as an OpenAPI document (slow)."""
    return OpenAPI.from_dict(_load("platform"), config=_CHECKED_CONFIG)


@cache
def platform_spec() -> OpenAPI:
    fixed = load_specs().patched["platform"]
    assert fixed == 4, f"expected the 4 known bad enum defaults, patched {fixed}"
    return OpenAPI.from_dict(_load("platform"), config=_CONFIG)


def _loosen_object_query_params(spec: dict[str, Any]) -> int:
    # The Jira Software spec types several comma-separated query parameters (board ``type``,
    # sprint ``state``, ``fields``) as ``object`` or arrays of objects, which no query string can
    # satisfy; the documented wire form is a comma-separated string.
    fixed = 0
    for operations in spec["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for param in operation.get("parameters", []):
                schema = param.get("schema", {})
                items = schema.get("items", {})
                if param.get("in") == "query" and (
                    schema.get("type") == "object" or items.get("type") == "object"
                ):
                    param["schema"] = {"type": "string"}
                    fixed += 1
    return fixed


@cache
def software_spec() -> OpenAPI:
    spec = _load("software")
    assert _loosen_object_query_params(spec) > 0
    return OpenAPI.from_dict(spec, config=_CONFIG)


class _OpenAPIRequest:
    """An httpx request seen through openapi-core's request protocol."""

    def __init__(self, request: httpx.Request, path: str) -> None:
        self._request = request
        self._path = path
        query = parse_qs(urlsplit(str(request.url)).query, keep_blank_values=True)
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(query),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict({}),
        )

    @property
    def host_url(self) -> str:
        return HOST

    @property
    def path(self) -> str:
        return self._path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        content = self._request.content
        return content or None

    @property
    def content_type(self) -> str:
        return self._request.headers.get("content-type", "application/json").split(";")[0]


def validate_request(request: httpx.Request) -> None:
    """Raise if ``request`` does not match the spec operation for its path.

    Data Center (v2) requests are checked against the v3 operation of the same path: the shapes
    the client sends are the same apart from rich text, which v3 types loosely enough.
    """
    path = request.url.path
    # openapi-core warns about security schemes it cannot check (OAuth2 in the software spec, a
    # bearer PAT on Data Center); auth is not what these checks are about.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
        if path.startswith("/rest/agile/1.0/"):
            software_spec().validate_request(_OpenAPIRequest(request, path))
            return
        if path.startswith("/rest/api/2/"):
            path = "/rest/api/3/" + path.removeprefix("/rest/api/2/")
            if path == "/rest/api/3/search":
                return  # gone from the Cloud spec (410 there); Data Center's own endpoint
        platform_spec().validate_request(_OpenAPIRequest(request, path))
