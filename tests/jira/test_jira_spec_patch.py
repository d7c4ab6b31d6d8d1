"""The request validator's view of Atlassian's spec: patched as little as needed, and sound."""

from __future__ import annotations

import json

import pytest

from support.jira_spec_validation import SPECS, _drop_bad_enum_defaults, load_platform_spec_checked


def test_exactly_the_four_known_bad_defaults_are_dropped() -> None:
    spec = json.loads((SPECS / "jira-cloud-platform-v3.openapi.json").read_text())
    assert _drop_bad_enum_defaults(spec) == 4
    assert _drop_bad_enum_defaults(spec) == 0  # nothing else is touched on a second pass


@pytest.mark.slow
def test_patched_platform_spec_is_a_valid_openapi_document() -> None:
    # Validating the 2.4 MB document takes most of a minute; the per-test loader skips it.
    load_platform_spec_checked()
