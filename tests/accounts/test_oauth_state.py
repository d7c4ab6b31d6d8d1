"""Signed OAuth state: signature, session binding, expiry on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jirabridge.errors import ConfigError
from jirabridge.service.oauth_state import OAuthStateError, OAuthStateSigner

SECRET = "a-test-session-secret-of-some-length"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_round_trip_carries_data() -> None:
    clock = Clock()
    signer = OAuthStateSigner(SECRET, clock=clock)
    issued = signer.issue("session-1", {"user": "u1"})
    verified = signer.verify(issued.value, "session-1")
    assert verified.nonce == issued.nonce
    assert verified.data == {"user": "u1"}
    assert verified.expires_at == issued.expires_at == clock.now + timedelta(minutes=10)
    assert issued.value not in repr(issued)


def test_nonces_differ() -> None:
    signer = OAuthStateSigner(SECRET)
    assert signer.issue("s").nonce != signer.issue("s").nonce


def test_other_session_refused() -> None:
    signer = OAuthStateSigner(SECRET)
    issued = signer.issue("session-1")
    with pytest.raises(OAuthStateError, match="another browser session"):
        signer.verify(issued.value, "session-2")


def test_session_id_not_readable_in_state() -> None:
    issued = OAuthStateSigner(SECRET).issue("very-secret-session-id")
    import base64

    padded = issued.value.split(".")[0] + "=="
    decoded = base64.urlsafe_b64decode(padded)
    assert b"very-secret-session-id" not in decoded


def test_expiry_on_the_injected_clock() -> None:
    clock = Clock()
    signer = OAuthStateSigner(SECRET, clock=clock)
    issued = signer.issue("s")
    clock.now += timedelta(minutes=9, seconds=59)
    signer.verify(issued.value, "s")
    clock.now += timedelta(seconds=1)
    with pytest.raises(OAuthStateError, match="expired"):
        signer.verify(issued.value, "s")


def test_tampered_or_foreign_state_refused() -> None:
    signer = OAuthStateSigner(SECRET)
    issued = signer.issue("s")
    with pytest.raises(OAuthStateError, match="not one we issued"):
        signer.verify(issued.value[:-2] + "xx", "s")
    other = OAuthStateSigner("another-secret-entirely-123").issue("s")
    with pytest.raises(OAuthStateError):
        signer.verify(other.value, "s")
    with pytest.raises(OAuthStateError):
        signer.verify("", "s")


def test_short_secret_is_config_error() -> None:
    with pytest.raises(ConfigError):
        OAuthStateSigner("short")
