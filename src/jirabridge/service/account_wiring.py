"""Wiring of the accounts and connections services from the settings, once per process.

:func:`build_accounts_context` is called by the web app (lazily, on the first request that
needs it, from the runtime's session factory) and by the CLI. Encryption keys come from
``JIRABRIDGE_ENCRYPTION_KEYS`` or ``JIRABRIDGE_ENCRYPTION_KEY_FILE``; outside production, when
neither is set, a key file is generated in the data directory (mode 0600) on first use so the
laptop setup needs no step. Production refuses to start without keys (see the settings).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.http.governor_store import GovernorStore
from jirabridge.service.accounts import AccountService
from jirabridge.service.atlassian_oauth import AtlassianOAuth, OAuthAppConfig
from jirabridge.service.connection_clients import JiraClientFactory
from jirabridge.service.connections import ConnectionService
from jirabridge.service.oauth_flow import OAuthFlow
from jirabridge.service.oauth_state import OAuthStateSigner
from jirabridge.service.oauth_tokens import OAuthTokenManager
from jirabridge.service.passwords import PasswordHasher
from jirabridge.service.settings import Settings
from jirabridge.service.url_safety import Resolver
from jirabridge.store.account_models import JiraConnectionRow
from jirabridge.store.connection_secrets import ConnectionSecrets
from jirabridge.store.secrets import SecretBox, generate_key, write_key_file

__all__ = [
    "OAUTH_CALLBACK_PATH",
    "AccountsContext",
    "build_accounts_context",
    "secret_box_from_settings",
]

log = logging.getLogger(__name__)

OAUTH_CALLBACK_PATH = "/connections/oauth/callback"
_DEV_KEY_FILE = "encryption.key"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AccountsContext:
    """Everything the account and connection pages, API and CLI use."""

    sessions: async_sessionmaker[AsyncSession]
    accounts: AccountService
    connections: ConnectionService
    secrets: ConnectionSecrets
    clients: JiraClientFactory
    tokens: OAuthTokenManager | None
    oauth_flow: OAuthFlow | None
    secure_cookies: bool

    def __repr__(self) -> str:
        return f"AccountsContext(oauth={'on' if self.oauth_flow else 'off'})"


def secret_box_from_settings(settings: Settings) -> SecretBox:
    """The key ring: configured keys, or (outside production) a generated key file."""
    keys = settings.encryption_keys.get_secret_value() if settings.encryption_keys else None
    if keys or settings.encryption_key_file is not None:
        return SecretBox.from_config(keys, settings.encryption_key_file)
    path: Path = settings.data_dir / _DEV_KEY_FILE
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        write_key_file(path, [generate_key()])
        log.warning(
            "no encryption key configured; generated %s (set JIRABRIDGE_ENCRYPTION_KEYS in "
            "production)",
            path,
        )
    return SecretBox.from_file(path)


def _public_base(settings: Settings) -> str:
    if settings.base_url:
        return settings.base_url.rstrip("/")
    return f"http://{settings.host}:{settings.port}"


def _dynamic_webhook_cleanup(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], clients: JiraClientFactory
) -> Callable[[JiraConnectionRow], Awaitable[object]]:
    # Imported here: the webhook schedules build on this module's services.
    from jirabridge.service.webhook_schedules import WebhookSchedules, client_opener
    from jirabridge.sync.status_sync import StatusSync

    schedules = WebhookSchedules(
        sessions, client_opener(sessions, clients), StatusSync(), public_base=_public_base(settings)
    )
    return schedules.unregister


def build_accounts_context(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    box: SecretBox | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    clock: Callable[[], datetime] = _utcnow,
    hasher: PasswordHasher | None = None,
    governor_store: GovernorStore | None = None,
) -> AccountsContext:
    """Build the services. ``transport``/``resolver``/``clock`` are for tests and the demo.

    ``governor_store`` is where the Jira clients keep their rate budgets: the runtime's store,
    so every process of a deployment that shares it paces one site against one budget.
    """
    secrets = ConnectionSecrets(box or secret_box_from_settings(settings))
    secret_key = settings.secret_key.get_secret_value()
    oauth: AtlassianOAuth | None = None
    if settings.oauth_client_id and settings.oauth_client_secret:
        oauth = AtlassianOAuth(
            OAuthAppConfig(
                client_id=settings.oauth_client_id,
                client_secret=settings.oauth_client_secret.get_secret_value(),
                redirect_uri=_public_base(settings) + OAUTH_CALLBACK_PATH,
                authorize_url=settings.oauth_authorize_url,
                token_url=settings.oauth_token_url,
                api_base=settings.oauth_api_base,
            ),
            transport=transport,
            clock=clock,
        )
    tokens = OAuthTokenManager(sessions, secrets, oauth.refresh, clock=clock) if oauth else None
    clients = JiraClientFactory(
        secrets,
        tokens,
        oauth_api_base=settings.oauth_api_base,
        transport=transport,
        clock=clock,
        governor_store=governor_store,
    )
    flow = (
        OAuthFlow(sessions, secrets, oauth, OAuthStateSigner(secret_key, clock=clock), clock=clock)
        if oauth
        else None
    )
    connections = ConnectionService(
        sessions,
        secrets,
        clients,
        allow_private_urls=settings.allow_private_jira_urls,
        resolver=resolver,
        clock=clock,
    )
    connections.before_disconnect(_dynamic_webhook_cleanup(settings, sessions, clients))
    return AccountsContext(
        sessions=sessions,
        accounts=AccountService(
            sessions, hasher or PasswordHasher(), secret_key=secret_key, clock=clock
        ),
        connections=connections,
        secrets=secrets,
        clients=clients,
        tokens=tokens,
        oauth_flow=flow,
        secure_cookies=settings.environment == "production"
        or _public_base(settings).startswith("https://"),
    )
