"""Jira webhook verification (admin HMAC, OAuth JWT) and envelope parsing, on real payloads."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jirabridge.errors import ConfigError, ValidationError, WebhookVerificationError
from jirabridge.jira.webhooks import (
    check_hub_signature,
    hub_signature,
    parse_jira_delivery,
    verify_jira_delivery,
    verify_jira_jwt,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks" / "jira"
JIRA_FIXTURES = sorted(FIXTURES.glob("*.json"))
SECRET = "admin-webhook-secret"
CLIENT_SECRET = "oauth-client-secret-" + "x" * 48
OTHER_SECRET = "another-client-secret-of-a-decent-length-0123456789"
NOW = 1_800_000_000.0


def clock() -> float:
    return NOW


def make_jwt(
    *, secret: str = CLIENT_SECRET, alg: str = "HS256", exp: float = NOW + 300, **claims: object
) -> str:
    payload: dict[str, object] = {"iat": int(NOW - 5), "exp": int(exp), **claims}
    return jwt.encode(payload, secret, algorithm=alg)


def signed_headers(body: bytes, **extra: str) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}", **extra}


def test_fixtures_are_present() -> None:
    assert len(JIRA_FIXTURES) >= 10


@pytest.mark.parametrize("path", JIRA_FIXTURES, ids=lambda p: p.stem)
def test_every_fixture_verifies_and_parses(path: Path) -> None:
    body = path.read_bytes()
    raw = json.loads(body)
    headers = signed_headers(
        body,
        **{"X-Atlassian-Webhook-Identifier": f"id-{path.stem}", "X-Atlassian-Webhook-Retry": "2"},
    )
    delivery = verify_jira_delivery(headers, body, secret=SECRET)
    assert delivery.event == raw["webhookEvent"]
    assert delivery.delivery_id == f"id-{path.stem}"
    assert delivery.retry_count == 2
    assert delivery.timestamp == datetime.fromtimestamp(raw["timestamp"] / 1000, tz=UTC)
    if "issue" in raw:
        assert delivery.issue_key == raw["issue"]["key"]
        assert delivery.issue_id == raw["issue"]["id"]
    if "comment" in raw:
        assert delivery.comment_id == raw["comment"]["id"]
    items = (raw.get("changelog") or {}).get("items", [])
    assert [c.field for c in delivery.changelog] == [i["field"] for i in items]
    assert delivery.payload == raw

    # One flipped byte anywhere in the body breaks the signature.
    tampered = body.replace(b"}", b" }", 1)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_jira_delivery(headers, tampered, secret=SECRET)


def test_changelog_items_are_typed() -> None:
    body = (FIXTURES / "mattermost-webhook-issue-updated-resolved.json").read_bytes()
    d = parse_jira_delivery({}, body)
    assert d.issue_event_type == "issue_generic"
    status = next(c for c in d.changelog if c.field == "status")
    assert (status.from_value, status.from_string) == ("3", "In Progress")
    assert (status.to_value, status.to_string) == ("10002", "Done")
    assert status.field_id == "status"
    assert d.changelog_id == "10228"
    assert d.retry_count == 0
    assert d.delivery_id is None


def test_server_comment_without_issue_object_gets_the_issue_id_from_the_comment_url() -> None:
    body = (FIXTURES / "mattermost-webhook-server-comment-created.json").read_bytes()
    d = parse_jira_delivery({}, body)
    assert d.issue_key is None
    assert d.issue_id == "10013"
    assert d.user_account_id is None


def test_worklog_delivery() -> None:
    payload = {
        "timestamp": 1_700_000_000_000,
        "webhookEvent": "worklog_created",
        "worklog": {
            "id": 10100,
            "issueId": "10040",
            "timeSpentSeconds": 3600,
            "started": "2026-11-20T09:00:00.000+0000",
            "author": {"accountId": "abc123"},
        },
    }
    d = parse_jira_delivery({"x-atlassian-webhook-flow": "Primary"}, json.dumps(payload).encode())
    assert d.worklog is not None
    assert d.worklog.id == "10100"
    assert d.worklog.issue_id == "10040"
    assert d.worklog.time_spent_seconds == 3600
    assert d.worklog.author_account_id == "abc123"
    assert d.issue_id == "10040"
    assert d.flow == "Primary"


def test_hub_signature_matches_an_independent_hmac() -> None:
    body = b'{"webhookEvent":"x"}'
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert hub_signature(body, "k") == f"sha256={expected}"
    check_hub_signature(body, f"SHA256={expected.upper()}", "k")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing X-Hub-Signature"),
        ("", "missing X-Hub-Signature"),
        ("abcdef", "must look like sha256="),
        ("sha1=" + "0" * 40, "unsupported algorithm"),
        ("sha256=nothex", "not a hex SHA-256"),
        ("sha256=" + "0" * 64, "does not match"),
    ],
)
def test_bad_signatures_are_refused(header: str | None, message: str) -> None:
    with pytest.raises(WebhookVerificationError, match=message) as info:
        check_hub_signature(b"{}", header, SECRET)
    assert info.value.http_status == 401
    assert SECRET not in str(info.value)


def test_empty_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        check_hub_signature(b"{}", "sha256=" + "0" * 64, "")


# --- OAuth dynamic webhooks: JWT -----------------------------------------------------------


def test_valid_jwt_returns_claims() -> None:
    token = make_jwt(iss="app-client-id", context={"x": 1})
    claims = verify_jira_jwt(f"Bearer {token}", CLIENT_SECRET, clock=clock, issuer="app-client-id")
    assert claims["iss"] == "app-client-id"


def test_jwt_delivery_on_fixture() -> None:
    body = (FIXTURES / "mattermost-webhook-issue-created.json").read_bytes()
    headers = {"Authorization": f"Bearer {make_jwt()}", "X-Atlassian-Webhook-Identifier": "d-1"}
    d = verify_jira_delivery(headers, body, client_secret=CLIENT_SECRET, clock=clock)
    assert d.event == "jira:issue_created"
    assert d.issue_key == "TES-41"


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "missing Authorization"),
        ("Basic abc", "Bearer <JWT>"),
        ("Bearer ", "Bearer <JWT>"),
        ("Bearer not.a.jwt", "malformed"),
        (f"Bearer {make_jwt(secret=OTHER_SECRET)}", "signature does not match"),
        (f"Bearer {make_jwt(alg='HS512')}", "not signed with HS256"),
        (f"Bearer {make_jwt(exp=NOW - 61)}", "expired"),
        (f"Bearer {make_jwt(iat=int(NOW + 600))}", "in the future"),
        (f"Bearer {make_jwt(nbf=int(NOW + 600))}", "not valid yet"),
        (f"Bearer {jwt.encode({'exp': int(NOW + 60)}, CLIENT_SECRET)}", "numeric 'iat'"),
        (f"Bearer {jwt.encode({'iat': int(NOW)}, CLIENT_SECRET)}", "numeric 'exp'"),
    ],
)
def test_bad_jwts_are_refused(authorization: str | None, message: str) -> None:
    with pytest.raises(WebhookVerificationError, match=message) as info:
        verify_jira_jwt(authorization, CLIENT_SECRET, clock=clock)
    assert CLIENT_SECRET not in str(info.value)


def test_unsigned_jwt_is_refused() -> None:
    token = jwt.encode({"iat": int(NOW), "exp": int(NOW + 60)}, key=None, algorithm="none")
    with pytest.raises(WebhookVerificationError, match="HS256"):
        verify_jira_jwt(f"Bearer {token}", CLIENT_SECRET, clock=clock)


def test_jwt_within_leeway_is_accepted_and_issuer_audience_are_checked() -> None:
    verify_jira_jwt(f"Bearer {make_jwt(exp=NOW - 30)}", CLIENT_SECRET, clock=clock)
    with pytest.raises(WebhookVerificationError, match="issuer"):
        verify_jira_jwt(f"Bearer {make_jwt(iss='x')}", CLIENT_SECRET, clock=clock, issuer="y")
    with pytest.raises(WebhookVerificationError, match="audience"):
        verify_jira_jwt(f"Bearer {make_jwt(aud='x')}", CLIENT_SECRET, clock=clock, audience="y")
    ok = make_jwt(aud=["a", "y"])
    assert verify_jira_jwt(f"Bearer {ok}", CLIENT_SECRET, clock=clock, audience="y")["aud"]


# --- choosing the method -------------------------------------------------------------------


def test_a_jwt_does_not_replace_a_required_hmac_signature() -> None:
    headers = {"Authorization": f"Bearer {make_jwt()}"}
    with pytest.raises(WebhookVerificationError, match="X-Hub-Signature"):
        verify_jira_delivery(headers, b'{"webhookEvent":"x"}', secret=SECRET, clock=clock)


def test_an_hmac_signature_does_not_replace_a_required_jwt() -> None:
    body = b'{"webhookEvent":"x"}'
    with pytest.raises(WebhookVerificationError, match="Authorization"):
        verify_jira_delivery(signed_headers(body), body, client_secret=CLIENT_SECRET, clock=clock)


def test_both_methods_configured_picks_by_header() -> None:
    body = b'{"webhookEvent":"x"}'
    kw = {"secret": SECRET, "client_secret": CLIENT_SECRET, "clock": clock}
    assert verify_jira_delivery(signed_headers(body), body, **kw).event == "x"  # type: ignore[arg-type]
    jwt_headers = {"authorization": f"Bearer {make_jwt()}"}
    assert verify_jira_delivery(jwt_headers, body, **kw).event == "x"  # type: ignore[arg-type]
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify_jira_delivery({}, body, **kw)  # type: ignore[arg-type]


def test_no_secret_configured_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        verify_jira_delivery({}, b"{}")


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"not json", {}, "not valid JSON"),
        (b"[1, 2]", {}, "JSON object"),
        (b'{"timestamp": 1}', {}, "no webhookEvent"),
        (b'{"webhookEvent": "x"}', {"X-Atlassian-Webhook-Retry": "two"}, "whole number"),
    ],
)
def test_bad_bodies_are_validation_errors(
    body: bytes, headers: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        parse_jira_delivery(headers, body)
    assert not isinstance(info.value, WebhookVerificationError)


@given(
    body=st.binary(min_size=1, max_size=200),
    secret=st.text(min_size=1, max_size=40),
    data=st.data(),
)
def test_signatures_verify_and_any_flipped_byte_fails(
    body: bytes, secret: str, data: st.DataObject
) -> None:
    header = hub_signature(body, secret)
    check_hub_signature(body, header, secret)
    i = data.draw(st.integers(0, len(body) - 1))
    flipped = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
    with pytest.raises(WebhookVerificationError):
        check_hub_signature(flipped, header, secret)
