"""The one exception tree of Jirabridge.

Every error the package raises on purpose is a :class:`JirabridgeError`. The tree separates
"we never got an answer" from "we got an answer and it says no", because the two call for
different handling: a missing answer may mean the server applied a write anyway, so a
non-idempotent request must be reconciled before it is repeated.

::

    JirabridgeError
    ├── ConfigError                    settings missing or invalid; raised before any I/O
    ├── ValidationError                input we refuse (bad key, bad duration, bad file) -> 4xx
    │   └── WebhookVerificationError   a webhook whose signature or token does not check out -> 401
    ├── NotAuthenticatedError          no valid session or API key came with the request -> 401
    ├── NotFoundError                  a local object does not exist or is not yours -> 404
    ├── PermissionDeniedError          a local action the caller may not take -> 403
    ├── ConflictError                  duplicate, or edited on both sides -> 409
    ├── TooManyRequestsError           a caller of OUR API over its rate limit -> 429
    ├── StorageError                   the database is unreachable or refused a write
    │   └── SecretDecryptionError       a stored secret fails to decrypt or belongs to another row
    ├── TransportError                 no response at all
    │   ├── TimeoutError_               connect/read/write/pool timeout
    │   ├── ConnectionFailedError       refused, reset, DNS failure, dropped mid-answer
    │   └── CircuitOpenError            we refused to send: the site's breaker is open
    └── ApiError                       a response came back and it is an error
        ├── AuthenticationError        401: bad or expired credentials
        │   └── ReauthorizationRequired  OAuth grant gone (invalid_grant): the user must reconnect
        ├── ForbiddenError             403
        ├── ApiNotFoundError           404
        ├── ApiConflictError           409
        ├── BadRequestError            400 / 422, with the remote field errors
        ├── RateLimitedError           429, with the parsed Retry-After and reason
        └── ServerError                5xx

``ApiError`` carries the HTTP status, the method and URL (never credentials), and the remote
``errorMessages``/``errors`` when the body is Jira's error shape. The web layer maps the tree to
``application/problem+json`` once, at its boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ApiConflictError",
    "ApiError",
    "ApiNotFoundError",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ConfigError",
    "ConflictError",
    "ConnectionFailedError",
    "ForbiddenError",
    "JirabridgeError",
    "NotAuthenticatedError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ReauthorizationRequired",
    "SecretDecryptionError",
    "ServerError",
    "StorageError",
    "TimeoutError_",
    "TooManyRequestsError",
    "TransportError",
    "ValidationError",
    "WebhookVerificationError",
    "api_error_for_status",
]


class JirabridgeError(Exception):
    """Base of every error Jirabridge raises on purpose."""

    #: HTTP status the web layer answers with when this error reaches it.
    http_status: int = 500
    #: Short, stable machine-readable code (the problem+json ``type`` suffix).
    code: str = "internal-error"

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return self.message


class ConfigError(JirabridgeError):
    """Settings are missing or invalid. Raised before any I/O happens."""

    http_status = 500
    code = "config-error"


class ValidationError(JirabridgeError):
    """Input we refuse. ``details`` may hold per-field or per-item problems."""

    http_status = 422
    code = "validation-error"


class WebhookVerificationError(ValidationError):
    """A webhook delivery failed authentication: missing, malformed or wrong signature or token.

    The message says which check failed but never echoes the secret or the expected value.
    """

    http_status = 401
    code = "webhook-unverified"


class NotAuthenticatedError(JirabridgeError):
    """The request carries no valid login session or API key."""

    http_status = 401
    code = "not-authenticated"


class NotFoundError(JirabridgeError):
    """A local object does not exist, or belongs to someone else (we do not say which)."""

    http_status = 404
    code = "not-found"


class PermissionDeniedError(JirabridgeError):
    """The caller may not take this action."""

    http_status = 403
    code = "forbidden"


class ConflictError(JirabridgeError):
    """The action conflicts with the current local state."""

    http_status = 409
    code = "conflict"


class TooManyRequestsError(JirabridgeError):
    """A caller of Jirabridge's own API (or login form) went over its rate limit.

    Not to be confused with :class:`RateLimitedError`, which is a remote API saying no to us.
    """

    http_status = 429
    code = "too-many-requests"

    def __init__(
        self, message: str, *, retry_after: float, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class StorageError(JirabridgeError):
    """The database is unreachable or refused a write."""

    http_status = 503
    code = "storage-unavailable"


class SecretDecryptionError(StorageError):
    """A stored secret cannot be decrypted by any configured key, or it is bound to another
    owner, connection or purpose (a ciphertext copied between rows). The message never holds
    the secret or the ciphertext."""

    http_status = 500
    code = "secret-undecryptable"


class TransportError(JirabridgeError):
    """No response came back. A write may or may not have been applied by the server."""

    http_status = 502
    code = "upstream-unreachable"

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.method = method
        self.url = url


class TimeoutError_(TransportError):
    """The request timed out (connect, read, write or pool)."""

    code = "upstream-timeout"


class ConnectionFailedError(TransportError):
    """The connection failed or was dropped before a complete answer arrived."""


class CircuitOpenError(TransportError):
    """The circuit breaker for this site is open; the request was not sent."""

    http_status = 503
    code = "circuit-open"

    def __init__(
        self,
        message: str,
        *,
        site: str,
        retry_after: float | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.site = site
        self.retry_after = retry_after


class ApiError(JirabridgeError):
    """A response came back and it is an error."""

    http_status = 502
    code = "upstream-error"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str | None = None,
        url: str | None = None,
        error_messages: Sequence[str] = (),
        field_errors: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.status = status
        self.method = method
        self.url = url
        self.error_messages = list(error_messages)
        self.field_errors = dict(field_errors or {})


class AuthenticationError(ApiError):
    """401: the credentials are wrong or expired."""

    code = "upstream-auth-failed"


class ReauthorizationRequired(AuthenticationError):
    """The OAuth grant is gone (``invalid_grant``): the user must connect again."""

    code = "reauthorization-required"


class ForbiddenError(ApiError):
    """403: authenticated, but not allowed."""

    code = "upstream-forbidden"


class ApiNotFoundError(ApiError):
    """404 from the remote API."""

    code = "upstream-not-found"


class ApiConflictError(ApiError):
    """409 from the remote API."""

    code = "upstream-conflict"


class BadRequestError(ApiError):
    """400 or 422 from the remote API; ``field_errors`` says which fields."""

    code = "upstream-bad-request"


class RateLimitedError(ApiError):
    """429 from the remote API, after our own retries (if any) gave up."""

    code = "upstream-rate-limited"

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        method: str | None = None,
        url: str | None = None,
        retry_after: float | None = None,
        reason: str | None = None,
        error_messages: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            method=method,
            url=url,
            error_messages=error_messages,
            details=details,
        )
        self.retry_after = retry_after
        self.reason = reason


class ServerError(ApiError):
    """5xx from the remote API."""

    code = "upstream-server-error"


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: ApiNotFoundError,
    409: ApiConflictError,
    422: BadRequestError,
    429: RateLimitedError,
}


def api_error_for_status(status: int) -> type[ApiError]:
    """Return the :class:`ApiError` subclass that stands for an HTTP error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return ApiError
