"""Verify Jira webhook deliveries and parse them into a small typed envelope.

Jira signs deliveries in one of two ways, and a receiver must know which one it expects:

* **Admin webhooks** registered with a secret carry ``X-Hub-Signature: sha256=<hex>``, the
  HMAC-SHA256 of the raw request body keyed with that secret.
* **OAuth 2.0 dynamic webhooks** carry ``Authorization: Bearer <JWT>``, an HS256 token signed
  with the app's client secret. Its ``exp`` and ``iat`` are checked here against an injectable
  clock. These tokens have no query-string hash (``qsh`` belongs to Connect apps), so none is
  checked; ``iss`` and ``aud`` are compared only when the caller says what to expect.

Comparisons are constant time (:func:`hmac.compare_digest`, and PyJWT's own HMAC check). Error
messages name the failed check, never the secret, the token or the expected signature.

Deliveries are at least once and unordered: deduplicate on ``delivery_id``
(``X-Atlassian-Webhook-Identifier``, stable across retries, unique within one tenant).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import jwt
from pydantic import BaseModel, ConfigDict, Field

from jirabridge.errors import ConfigError, ValidationError, WebhookVerificationError

__all__ = [
    "JIRA_SIGNATURE_HEADER",
    "ChangelogItem",
    "JiraWebhookDelivery",
    "WorklogRef",
    "check_hub_signature",
    "hub_signature",
    "parse_jira_delivery",
    "verify_jira_delivery",
    "verify_jira_jwt",
]

JIRA_SIGNATURE_HEADER = "X-Hub-Signature"

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_ISSUE_ID_IN_URL = re.compile(r"/issue/(\d+)(?:/|$)")


def _secret_bytes(secret: str | bytes, what: str) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    if not raw:
        raise ConfigError(f"the {what} is empty; set it before verifying webhooks")
    return raw


def hub_signature(body: bytes, secret: str | bytes) -> str:
    """Return ``sha256=<hex>``: the HMAC-SHA256 of ``body`` keyed with ``secret``.

    This is the value both Jira (``X-Hub-Signature``) and GitHub (``X-Hub-Signature-256``) send.
    """
    digest = hmac.new(_secret_bytes(secret, "webhook secret"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def check_hub_signature(
    body: bytes,
    header_value: str | None,
    secret: str | bytes,
    *,
    header_name: str = JIRA_SIGNATURE_HEADER,
) -> None:
    """Check a ``sha256=<hex>`` signature header against the raw ``body``.

    Raises :class:`~jirabridge.errors.WebhookVerificationError` when the header is missing,
    names another algorithm, is malformed, or does not match. ``body`` must be the bytes as
    received: re-serialised JSON will not match.
    """
    key = _secret_bytes(secret, "webhook secret")
    if header_value is None or not header_value.strip():
        raise WebhookVerificationError(f"missing {header_name} header")
    algorithm, sep, received = header_value.strip().partition("=")
    if not sep:
        raise WebhookVerificationError(f"{header_name} must look like sha256=<hex>")
    if algorithm.lower() != "sha256":
        raise WebhookVerificationError(
            f"{header_name} uses an unsupported algorithm; only sha256 is accepted"
        )
    if _HEX_SHA256.fullmatch(received) is None:
        raise WebhookVerificationError(f"{header_name} is not a hex SHA-256 digest")
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, received.lower()):
        raise WebhookVerificationError(f"{header_name} does not match the body")


def _numeric_claim(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WebhookVerificationError(f"webhook JWT has no numeric '{name}' claim")
    return float(value)


def verify_jira_jwt(
    authorization: str | None,
    client_secret: str | bytes,
    *,
    clock: Callable[[], float] = time.time,
    leeway: float = 60.0,
    issuer: str | None = None,
    audience: str | None = None,
) -> dict[str, Any]:
    """Verify the bearer JWT of an OAuth 2.0 dynamic webhook and return its claims.

    The token must be HS256, signed with ``client_secret``, carry numeric ``exp`` and ``iat``,
    not be expired and not be issued in the future (both with ``leeway`` seconds of clock skew),
    and, when ``nbf`` is present, be valid already. ``issuer``/``audience``, when given, must
    equal the ``iss``/``aud`` claims.
    """
    key = _secret_bytes(client_secret, "OAuth client secret")
    if authorization is None or not authorization.strip():
        raise WebhookVerificationError("missing Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise WebhookVerificationError("Authorization header must be 'Bearer <JWT>'")
    try:
        claims: dict[str, Any] = jwt.decode(
            token.strip(),
            key,
            algorithms=["HS256"],
            # Time and audience checks are done below, against the injected clock.
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidAlgorithmError as exc:
        raise WebhookVerificationError("webhook JWT is not signed with HS256") from exc
    except jwt.InvalidSignatureError as exc:
        raise WebhookVerificationError("webhook JWT signature does not match") from exc
    except jwt.PyJWTError as exc:
        raise WebhookVerificationError("webhook JWT is malformed") from exc

    now = clock()
    exp, iat = _numeric_claim(claims, "exp"), _numeric_claim(claims, "iat")
    if exp <= now - leeway:
        raise WebhookVerificationError("webhook JWT has expired")
    if iat > now + leeway:
        raise WebhookVerificationError("webhook JWT is issued in the future")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and not isinstance(nbf, bool) and nbf > now + leeway:
        raise WebhookVerificationError("webhook JWT is not valid yet")
    if issuer is not None and claims.get("iss") != issuer:
        raise WebhookVerificationError("webhook JWT has an unexpected issuer")
    if audience is not None:
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if audience not in audiences:
            raise WebhookVerificationError("webhook JWT has an unexpected audience")
    return claims


class ChangelogItem(BaseModel):
    """One field change from a delivery's ``changelog.items``."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    field: str
    field_id: str | None = Field(default=None, alias="fieldId")
    field_type: str | None = Field(default=None, alias="fieldtype")
    from_value: str | None = Field(default=None, alias="from")
    from_string: str | None = Field(default=None, alias="fromString")
    to_value: str | None = Field(default=None, alias="to")
    to_string: str | None = Field(default=None, alias="toString")


class WorklogRef(BaseModel):
    """The worklog of a ``worklog_created/updated/deleted`` delivery."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    id: str
    issue_id: str | None = Field(default=None, alias="issueId")
    time_spent_seconds: int | None = Field(default=None, alias="timeSpentSeconds")
    started: str | None = None
    updated: str | None = None
    author_account_id: str | None = None


class JiraWebhookDelivery(BaseModel):
    """A parsed Jira delivery: what happened, to which issue, and how to deduplicate it."""

    model_config = ConfigDict(frozen=True)

    event: str
    """``webhookEvent``, e.g. ``jira:issue_updated``, ``comment_created``, ``worklog_created``."""
    issue_event_type: str | None = None
    """``issue_event_type_name`` when present, e.g. ``issue_assigned``, ``issue_commented``."""
    delivery_id: str | None = None
    """``X-Atlassian-Webhook-Identifier``: the same on every retry of one delivery."""
    retry_count: int = 0
    """``X-Atlassian-Webhook-Retry``; 0 on a first delivery."""
    flow: str | None = None
    """``X-Atlassian-Webhook-Flow``: ``Primary`` or ``Secondary`` (cascaded changes)."""
    timestamp: datetime | None = None
    issue_key: str | None = None
    issue_id: str | None = None
    comment_id: str | None = None
    user_account_id: str | None = None
    changelog_id: str | None = None
    changelog: tuple[ChangelogItem, ...] = ()
    worklog: WorklogRef | None = None
    payload: dict[str, Any] = Field(default_factory=dict, repr=False)


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _load_json_object(body: bytes, source: str) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{source} webhook body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise ValidationError(f"{source} webhook body must be a JSON object")
    return payload


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _account_id(user: Any) -> str | None:
    # Cloud identifies people by accountId; Server/DC only has name/key.
    u = _obj(user)
    return _str_or_none(u.get("accountId") or u.get("key") or u.get("name"))


def parse_jira_delivery(headers: Mapping[str, str], body: bytes) -> JiraWebhookDelivery:
    """Parse a delivery (already verified) into a :class:`JiraWebhookDelivery`.

    Raises :class:`~jirabridge.errors.ValidationError` for a body that is not a JSON object with
    a ``webhookEvent``, or a retry header that is not a number.
    """
    h = _lower_headers(headers)
    payload = _load_json_object(body, "Jira")
    event = payload.get("webhookEvent")
    if not isinstance(event, str) or not event:
        raise ValidationError("Jira webhook body has no webhookEvent")

    retry_raw = h.get("x-atlassian-webhook-retry", "0").strip() or "0"
    if not retry_raw.isdigit():
        raise ValidationError("X-Atlassian-Webhook-Retry must be a whole number")

    ts = payload.get("timestamp")
    timestamp = (
        datetime.fromtimestamp(ts / 1000, tz=UTC)
        if isinstance(ts, int | float) and not isinstance(ts, bool)
        else None
    )

    issue = _obj(payload.get("issue"))
    comment = _obj(payload.get("comment"))
    worklog_raw = _obj(payload.get("worklog"))
    changelog = _obj(payload.get("changelog"))

    issue_id = _str_or_none(issue.get("id"))
    if issue_id is None and worklog_raw.get("issueId") is not None:
        issue_id = str(worklog_raw["issueId"])
    if issue_id is None and isinstance(comment.get("self"), str):
        # Server comment events carry no issue object; the comment URL names the issue id.
        m = _ISSUE_ID_IN_URL.search(comment["self"])
        issue_id = m.group(1) if m else None

    worklog = None
    if worklog_raw.get("id") is not None:
        worklog = WorklogRef.model_validate(
            {
                **worklog_raw,
                "id": str(worklog_raw["id"]),
                "issueId": _str_or_none(worklog_raw.get("issueId")),
                "author_account_id": _account_id(worklog_raw.get("author")),
            }
        )

    items = changelog.get("items")
    return JiraWebhookDelivery(
        event=event,
        issue_event_type=_str_or_none(payload.get("issue_event_type_name")),
        delivery_id=h.get("x-atlassian-webhook-identifier"),
        retry_count=int(retry_raw),
        flow=h.get("x-atlassian-webhook-flow"),
        timestamp=timestamp,
        issue_key=_str_or_none(issue.get("key")),
        issue_id=issue_id,
        comment_id=_str_or_none(comment.get("id")),
        user_account_id=_account_id(payload.get("user")),
        changelog_id=_str_or_none(changelog.get("id")),
        changelog=tuple(
            ChangelogItem.model_validate(
                {k: _str_or_none(v) if k != "field" else v for k, v in item.items()}
            )
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and isinstance(item.get("field"), str)
        ),
        worklog=worklog,
        payload=payload,
    )


def verify_jira_delivery(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str | bytes | None = None,
    client_secret: str | bytes | None = None,
    clock: Callable[[], float] = time.time,
    leeway: float = 60.0,
    issuer: str | None = None,
    audience: str | None = None,
) -> JiraWebhookDelivery:
    """Verify a delivery, then parse it.

    Pass ``secret`` for admin webhooks (``X-Hub-Signature``), ``client_secret`` for OAuth 2.0
    dynamic webhooks (bearer JWT), or both when one endpoint receives both kinds. A delivery
    is only accepted by a method the caller configured, so a JWT cannot stand in for a missing
    HMAC signature or the other way round. ``issuer``/``audience`` are the JWT's expected
    ``iss`` and ``aud`` (see :func:`verify_jira_jwt`).
    """
    if secret is None and client_secret is None:
        raise ConfigError("verify_jira_delivery needs a webhook secret or an OAuth client secret")
    h = _lower_headers(headers)
    signature = h.get(JIRA_SIGNATURE_HEADER.lower())
    authorization = h.get("authorization")
    if secret is not None and (signature is not None or client_secret is None):
        check_hub_signature(body, signature, secret)
    elif client_secret is not None and (authorization is not None or secret is None):
        verify_jira_jwt(
            authorization,
            client_secret,
            clock=clock,
            leeway=leeway,
            issuer=issuer,
            audience=audience,
        )
    else:
        raise WebhookVerificationError(
            "missing X-Hub-Signature or Authorization header on a Jira webhook"
        )
    return parse_jira_delivery(headers, body)
