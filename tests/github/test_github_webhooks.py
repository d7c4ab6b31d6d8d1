"""GitHub webhook verification (X-Hub-Signature-256) and envelope parsing."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from jirabridge.errors import ValidationError, WebhookVerificationError
from jirabridge.github.webhooks import (
    github_signature,
    parse_github_delivery,
    verify_github_delivery,
    verify_github_signature,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks" / "github"
GITHUB_FIXTURES = sorted(FIXTURES.glob("*.json"))
SECRET = "hook-secret"

# Published in GitHub's "Validating webhook deliveries" guide.
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_published_vector() -> None:
    assert github_signature(VECTOR_BODY, VECTOR_SECRET) == VECTOR_SIGNATURE
    verify_github_signature(VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_SECRET)
    with pytest.raises(WebhookVerificationError):
        verify_github_signature(VECTOR_BODY + b" ", VECTOR_SIGNATURE, VECTOR_SECRET)
    with pytest.raises(WebhookVerificationError):
        verify_github_signature(VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_SECRET + "!")


def _headers(body: bytes, event: str, delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958"):
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Hook-ID": "292430182",
    }


@pytest.mark.parametrize("path", GITHUB_FIXTURES, ids=lambda p: p.stem)
def test_every_fixture_verifies_and_parses(path: Path) -> None:
    body = path.read_bytes()
    raw = json.loads(body)
    event = path.stem.split(".")[0]
    d = verify_github_delivery(_headers(body, event), body, SECRET)
    assert d.event == event
    assert d.delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert d.hook_id == "292430182"
    assert d.action == raw.get("action")
    assert d.repository == raw["repository"]["full_name"]
    assert d.sender == raw["sender"]["login"]
    assert d.installation_id == (raw.get("installation") or {}).get("id")
    assert d.payload == raw
    with pytest.raises(WebhookVerificationError):
        verify_github_delivery(_headers(body, event), body + b"\n", SECRET)


def test_pull_request_fixture_fields() -> None:
    body = (FIXTURES / "pull_request.opened.json").read_bytes()
    d = parse_github_delivery(_headers(body, "pull_request"), body)
    assert (d.action, d.repository, d.installation_id) == ("opened", "Codertocat/Hello-World", 1)


def test_missing_signature_is_refused() -> None:
    body = b"{}"
    headers = _headers(body, "ping")
    del headers["X-Hub-Signature-256"]
    with pytest.raises(WebhookVerificationError, match="missing X-Hub-Signature-256") as info:
        verify_github_delivery(headers, body, SECRET)
    assert info.value.http_status == 401


def test_legacy_sha1_only_is_refused_as_wrong_algorithm() -> None:
    body = b"{}"
    headers = _headers(body, "ping")
    del headers["X-Hub-Signature-256"]
    headers["X-Hub-Signature"] = "sha1=" + hmac.new(SECRET.encode(), body, "sha1").hexdigest()
    with pytest.raises(WebhookVerificationError, match="SHA-1"):
        verify_github_delivery(headers, body, SECRET)


def test_wrong_algorithm_prefix_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="unsupported algorithm"):
        verify_github_signature(b"{}", "sha512=" + "0" * 128, SECRET)


def test_header_names_are_case_insensitive() -> None:
    body = b'{"zen": "x"}'
    headers = {k.lower(): v for k, v in _headers(body, "ping").items()}
    assert verify_github_delivery(headers, body, SECRET).event == "ping"


@pytest.mark.parametrize("missing", ["X-GitHub-Event", "X-GitHub-Delivery"])
def test_missing_envelope_headers_are_validation_errors(missing: str) -> None:
    body = b"{}"
    headers = _headers(body, "ping")
    del headers[missing]
    with pytest.raises(ValidationError, match=missing) as info:
        verify_github_delivery(headers, body, SECRET)
    assert not isinstance(info.value, WebhookVerificationError)


def test_non_object_body_is_a_validation_error() -> None:
    body = b"[]"
    with pytest.raises(ValidationError, match="JSON object"):
        verify_github_delivery(_headers(body, "ping"), body, SECRET)
