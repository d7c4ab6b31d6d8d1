"""Tables of the webhook intake and status sync: endpoints, deliveries, status links, and the
two schedules (dynamic webhook registrations, polling watermarks).

Every row belongs to exactly one owner (a user or a team), like a Jira connection; every
repository query filters by that owner.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from jirabridge.store.account_models import new_id
from jirabridge.store.models import Base, BigIntPK, CreatedAtMixin, TimestampMixin, UTCDateTime

__all__ = [
    "DeliveryStatus",
    "DynamicWebhookRow",
    "EndpointKind",
    "PollWatermarkRow",
    "StatusLinkRow",
    "WebhookDeliveryRow",
    "WebhookEndpointRow",
    "WebhookSource",
]


class WebhookSource(enum.StrEnum):
    """Who sends to an endpoint."""

    JIRA = "jira"
    GITHUB = "github"


class EndpointKind(enum.StrEnum):
    """How deliveries to an endpoint are authenticated.

    ``admin``: a Jira admin webhook signed with ``X-Hub-Signature`` (HMAC-SHA256).
    ``dynamic``: an OAuth 2.0 app's dynamic webhook, a JWT signed with the client secret.
    ``github``: a GitHub webhook signed with ``X-Hub-Signature-256``.
    """

    ADMIN = "admin"
    DYNAMIC = "dynamic"
    GITHUB = "github"


class DeliveryStatus(enum.StrEnum):
    """Where a stored delivery stands in processing."""

    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


def _in_list(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


_ONE_OWNER = "(owner_user_id IS NULL) <> (owner_team_id IS NULL)"


class WebhookEndpointRow(TimestampMixin, Base):
    """One receiving URL (``/webhooks/<source>/<id>``) with its own secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint(_in_list("source", WebhookSource), name="source"),
        CheckConstraint(_in_list("kind", EndpointKind), name="kind"),
        CheckConstraint(_ONE_OWNER, name="exactly_one_owner"),
        Index("ix_webhook_endpoints_owner_team_id", "owner_team_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_user_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    owner_team_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("teams.id", ondelete="CASCADE"), nullable=True
    )
    connection_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("jira_connections.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    #: The shared secret (HMAC key, or the OAuth client secret for dynamic webhooks),
    #: encrypted with the service's key ring and bound to this row.
    secret_ciphertext: Mapped[str] = mapped_column(Text, nullable=False)
    #: The Jira webhook ids registered for this endpoint (dynamic webhooks), and their expiry.
    remote_webhook_ids: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    remote_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    jql_filter: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

    @property
    def owner_ref(self) -> str:
        """``user:<id>`` or ``team:<id>``: the owner part of the secret's binding."""
        if self.owner_team_id is not None:
            return f"team:{self.owner_team_id}"
        return f"user:{self.owner_user_id}"

    def __repr__(self) -> str:
        return (
            f"WebhookEndpointRow(id={self.id!r}, source={self.source!r}, kind={self.kind!r}, "
            f"owner={self.owner_ref!r})"
        )


class WebhookDeliveryRow(CreatedAtMixin, Base):
    """One verified delivery, stored before it is acknowledged.

    Unique on ``(endpoint_id, delivery_id)``: a repeated delivery (the sender retrying after a
    lost answer) hits the constraint and is acknowledged without being stored twice.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "delivery_id"),
        CheckConstraint(_in_list("status", DeliveryStatus), name="status"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    )
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    delivery_id: Mapped[str] = mapped_column(String(255), nullable=False)
    event: Mapped[str] = mapped_column(String(128), nullable=False)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    #: Who holds the delivery while processing it, and until when (a crashed worker's lease
    #: runs out and another worker picks the delivery up).
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StatusLinkRow(TimestampMixin, Base):
    """A local object (exported story, time record...) whose state follows a Jira issue.

    ``synced_jira_status`` is the Jira status both sides last agreed on: when Jira moves away
    from it while the local side was also changed (``local_dirty``), that is a conflict and it
    is recorded, not overwritten.
    """

    __tablename__ = "status_links"
    __table_args__ = (
        UniqueConstraint("connection_id", "subject_kind", "subject_id"),
        CheckConstraint(_ONE_OWNER, name="exactly_one_owner"),
        Index("ix_status_links_connection_id_issue_key", "connection_id", "issue_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_user_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    owner_team_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("teams.id", ondelete="CASCADE"), nullable=True
    )
    #: The Jira connection (or site) the issue lives on; also the ledger's ``site``.
    connection_id: Mapped[str] = mapped_column(String(64), nullable=False)
    issue_key: Mapped[str] = mapped_column(String(64), nullable=False)
    #: What the local object is (``story``, ``time_record``...) and its id in its own table.
    subject_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(64), nullable=False)
    local_state: Mapped[str] = mapped_column(String(32), nullable=False)
    jira_status: Mapped[str | None] = mapped_column(String(128), nullable=True)
    jira_status_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    synced_jira_status: Mapped[str | None] = mapped_column(String(128), nullable=True)
    local_dirty: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    conflict: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Grows on every applied change, so live views can tell what is new.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class DynamicWebhookRow(TimestampMixin, Base):
    """The dynamic webhook Jirabridge keeps registered for one OAuth connection.

    ``next_run_at`` is also the schedule's lock: a worker claims the row by moving it into the
    future with a conditional UPDATE, so of several workers ticking at once exactly one does
    the round (see :mod:`jirabridge.store.schedules`).
    """

    __tablename__ = "dynamic_webhooks"

    connection_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("jira_connections.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    )
    #: The ids Jira gave the registered webhooks, the JQL filter and events they were made with.
    webhook_ids: Mapped[list[int]] = mapped_column(JSON, nullable=False, default=list)
    jql_filter: Mapped[str | None] = mapped_column(Text, nullable=True)
    events: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class PollWatermarkRow(TimestampMixin, Base):
    """How far the polling fallback of one connection has read, and when it runs next.

    ``watermark`` is the time the last successful pull started; the next pull asks for issues
    updated since ``watermark - overlap``. ``next_run_at`` doubles as the schedule's lock, like
    :class:`DynamicWebhookRow`'s; a worklog event moves it to now so the pull comes early.
    """

    __tablename__ = "poll_watermarks"

    connection_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("jira_connections.id", ondelete="CASCADE"), primary_key=True
    )
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
