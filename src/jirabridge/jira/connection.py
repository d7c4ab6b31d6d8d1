"""A connection test with one clear verdict, for setup screens and ``jirabridge doctor``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jirabridge.errors import (
    ApiError,
    AuthenticationError,
    ForbiddenError,
    TransportError,
)
from jirabridge.jira.models import ServerInfo, User

__all__ = ["ConnectionCheck", "ConnectionVerdict"]


class ConnectionVerdict(StrEnum):
    """What a connection test concluded."""

    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    NO_PERMISSION = "no_permission"
    UNREACHABLE = "unreachable"
    NOT_JIRA = "not_jira"


@dataclass(frozen=True)
class ConnectionCheck:
    """The verdict, a message a person can act on, and what was learnt on the way."""

    verdict: ConnectionVerdict
    message: str
    server: ServerInfo | None = None
    user: User | None = None

    @property
    def ok(self) -> bool:
        """True when the connection works."""
        return self.verdict is ConnectionVerdict.OK


def verdict_for_error(exc: Exception, *, stage: str) -> ConnectionCheck:
    """Turn what went wrong at ``stage`` ("server" or "user") into a verdict and a message."""
    if isinstance(exc, TransportError):
        return ConnectionCheck(
            ConnectionVerdict.UNREACHABLE,
            f"Could not reach the server ({exc.code}). Check the URL and your network.",
        )
    if isinstance(exc, AuthenticationError):
        return ConnectionCheck(
            ConnectionVerdict.BAD_CREDENTIALS,
            "Jira refused the credentials. Check the email/username and the token "
            "(API tokens expire; personal access tokens are for Data Center only).",
        )
    if isinstance(exc, ForbiddenError):
        return ConnectionCheck(
            ConnectionVerdict.NO_PERMISSION,
            "Jira accepted the request but the account may not use the REST API here "
            "(no product access, or a CAPTCHA after failed logins).",
        )
    if isinstance(exc, ApiError) and (exc.status == 404 or stage == "server"):
        if exc.status >= 500:
            return ConnectionCheck(
                ConnectionVerdict.UNREACHABLE,
                f"The server answered {exc.status}; it may be down. Try again later.",
            )
        return ConnectionCheck(
            ConnectionVerdict.NOT_JIRA,
            f"The URL answered {exc.status} where Jira's REST API should be; is this a Jira "
            "site's base URL?",
        )
    if isinstance(exc, ApiError):
        return ConnectionCheck(
            ConnectionVerdict.UNREACHABLE, f"Jira answered {exc.status}; try again later."
        )
    raise exc
