"""The ``state`` parameter of the OAuth 3LO dance: signed, expiring, bound to the session.

:class:`OAuthStateSigner` makes and checks the signature, the expiry (10 minutes by default,
against an injectable clock) and the binding to the browser session (a hash of the session id
is signed in, never the id itself). Single use is the store's job: the random ``nonce`` of each
state is a row in ``oauth_states`` that the callback consumes atomically
(:meth:`jirabridge.store.accounts.OAuthStateRepository.consume`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from jirabridge.errors import ConfigError, ValidationError

__all__ = [
    "DEFAULT_STATE_TTL",
    "IssuedState",
    "OAuthStateError",
    "OAuthStateSigner",
    "VerifiedState",
    "session_fingerprint",
]

DEFAULT_STATE_TTL = timedelta(minutes=10)
_SALT = "jirabridge.oauth-state.v1"


class OAuthStateError(ValidationError):
    """The ``state`` of an OAuth callback is forged, expired, replayed or from another session."""

    http_status = 400
    code = "oauth-state-invalid"


def session_fingerprint(session_id: str) -> str:
    """A stable, non-reversible stand-in for a session id (SHA-256 hex)."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IssuedState:
    """A new state: ``value`` goes into the authorization URL, ``nonce`` into the store."""

    value: str = field(repr=False)
    nonce: str
    expires_at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True)
class VerifiedState:
    """A state whose signature, expiry and session binding hold (not yet consumed)."""

    nonce: str
    expires_at: datetime
    data: Mapping[str, Any]


class OAuthStateSigner:
    """Signs and verifies OAuth ``state`` values with a server secret (itsdangerous)."""

    def __init__(
        self,
        secret_key: str,
        *,
        ttl: timedelta = DEFAULT_STATE_TTL,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if len(secret_key) < 16:
            raise ConfigError("the session secret key must be at least 16 characters long")
        self._serializer = URLSafeSerializer(secret_key, salt=_SALT)
        self._ttl = ttl
        self._clock = clock

    def __repr__(self) -> str:
        return f"OAuthStateSigner(ttl={self._ttl!r})"

    def issue(self, session_id: str, data: Mapping[str, Any] | None = None) -> IssuedState:
        """Make a state for the session ``session_id``; ``data`` rides along signed."""
        nonce = secrets.token_urlsafe(24)
        # Whole seconds, so the expiry stored with the nonce equals the signed one.
        expires_at = (self._clock() + self._ttl).replace(microsecond=0)
        carried = dict(data or {})
        payload = {
            "n": nonce,
            "s": session_fingerprint(session_id),
            "e": int(expires_at.timestamp()),
            "d": carried,
        }
        value = self._serializer.dumps(payload)
        return IssuedState(value=value, nonce=nonce, expires_at=expires_at, data=carried)

    def verify(self, value: str, session_id: str) -> VerifiedState:
        """Check signature, session binding and expiry; raise :class:`OAuthStateError`."""
        try:
            payload = self._serializer.loads(value)
        except BadSignature as exc:
            raise OAuthStateError("the OAuth state is not one we issued") from exc
        if not isinstance(payload, dict) or not {"n", "s", "e", "d"} <= payload.keys():
            raise OAuthStateError("the OAuth state is malformed")
        if not hmac.compare_digest(str(payload["s"]), session_fingerprint(session_id)):
            raise OAuthStateError("the OAuth state belongs to another browser session")
        expires_at = datetime.fromtimestamp(int(payload["e"]), UTC)
        if self._clock() >= expires_at:
            raise OAuthStateError("the OAuth state has expired; start the connection again")
        return VerifiedState(nonce=str(payload["n"]), expires_at=expires_at, data=payload["d"])
