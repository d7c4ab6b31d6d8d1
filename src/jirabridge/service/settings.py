"""Service settings: environment (``JIRABRIDGE_*``), an optional TOML file, and defaults.

Settings are built by :func:`load_settings`, called from the app factory and the CLI, never at
import time, so tests and several apps in one process each get their own.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from jirabridge.errors import ConfigError

__all__ = ["DEV_SECRET_KEY", "Settings", "default_data_dir", "load_settings"]

#: Signs sessions and OAuth state in development. Production refuses to start with it.
DEV_SECRET_KEY = "dev-only-not-secret-jirabridge"  # noqa: S105 - refused in production

Environment = Literal["development", "test", "production"]


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/jirabridge``, or ``~/.local/share/jirabridge`` when XDG is unset."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "jirabridge"


class Settings(BaseSettings):
    """Everything the service reads from its environment.

    Every field can be set as ``JIRABRIDGE_<NAME>`` (upper case) or in the TOML file named by
    ``JIRABRIDGE_CONFIG`` (or passed to :func:`load_settings`). Secrets are ``SecretStr`` so
    they never show in a repr or a log line.
    """

    model_config = SettingsConfigDict(
        env_prefix="JIRABRIDGE_",
        extra="forbid",
        validate_default=True,
    )

    environment: Environment = "development"
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite in the data dir."
    )
    jobs_database_url: str | None = Field(
        default=None,
        description=(
            "DBOS system database; default: its own SQLite file in the data dir, or the same "
            "PostgreSQL server as database_url."
        ),
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    base_url: str | None = Field(
        default=None, description="Public URL of the service (OAuth callbacks, webhook URLs)."
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        description="GitHub's REST API (GitHub Enterprise Server: https://host/api/v3).",
    )
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys, newest first; or use encryption_key_file.",
    )
    encryption_key_file: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False
    application_version: str = Field(
        default="1",
        description="Pinned DBOS application version; bump deliberately on workflow changes.",
    )
    executor_id: str = Field(
        default_factory=lambda: f"jirabridge-{socket.gethostname()}",
        description="Stable id of this worker process for durable-workflow recovery.",
    )
    jobs_polling_interval_sec: float = Field(default=0.2, gt=0, le=10)
    run_workers: bool = True
    governor_store_url: SecretStr | None = Field(
        default=None,
        description=(
            "Where the rate-limit governor keeps its state when several processes share it: "
            "redis://... or postgresql://...; default: in this process only."
        ),
    )
    heartbeat_interval_sec: float = Field(default=10.0, ge=0.05, le=3600)
    executor_stale_after_sec: float = Field(
        default=60.0,
        gt=0,
        description="A worker silent this long is stopped; others resume its workflows.",
    )
    retention_workflow_days: float = Field(
        default=30.0, gt=0, description="Finished workflows older than this are deleted."
    )
    retention_interval_sec: float = Field(default=3600.0, ge=1, le=7 * 86400)
    retention_batch: int = Field(default=500, ge=1, le=10_000)
    allow_private_jira_urls: bool = Field(
        default=False,
        description="Allow Jira URLs on private or loopback addresses (the simulator in dev).",
    )
    api_rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Requests per minute of one user to /api/* (0: off)."
    )
    api_key_rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Requests per minute through one API key (0: off)."
    )
    api_rate_burst: int = Field(
        default=60, ge=1, description="Requests a user or key may send at once before pacing."
    )
    login_attempts_per_minute: int = Field(
        default=10, ge=0, description="Login attempts per minute for one e-mail (0: off)."
    )
    login_attempts_burst: int = Field(default=5, ge=1)
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_authorize_url: str = "https://auth.atlassian.com/authorize"
    oauth_token_url: str = "https://auth.atlassian.com/oauth/token"  # noqa: S105 - a URL
    oauth_api_base: str = "https://api.atlassian.com"
    worklog_rounding_seconds: int = Field(
        default=60, ge=1, le=86_400, description="Round time records to this step (seconds)."
    )
    worklog_minimum_seconds: int = Field(
        default=60, ge=60, le=86_400, description="Shortest worklog written (Jira's floor: 60)."
    )
    worklog_pull_interval_sec: float = Field(
        default=300.0,
        ge=0,
        description="How often a worker pulls worklog changes from Jira (0 turns it off).",
    )
    webhook_schedule_tick_sec: float = Field(
        default=60.0,
        ge=0,
        description=(
            "How often a worker checks the webhook schedules (dynamic webhook upkeep and the "
            "polling fallback; 0 turns both off)."
        ),
    )
    status_poll_interval_sec: float = Field(
        default=300.0, ge=30, description="How often each connection is polled for missed changes."
    )
    dynamic_webhook_check_sec: float = Field(
        default=43_200.0,
        ge=60,
        description="How often each OAuth connection's dynamic webhooks are checked and refreshed.",
    )
    worklog_notify_users: bool = Field(
        default=False, description="Let Jira e-mail watchers about each synced worklog."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then the TOML file (whose path
        # load_settings puts in model_config; none means the source reads nothing).
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.environment != "production":
            return self
        problems = []
        if self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            problems.append("JIRABRIDGE_SECRET_KEY is the development default")
        elif len(self.secret_key.get_secret_value()) < 32:
            problems.append("JIRABRIDGE_SECRET_KEY is shorter than 32 characters")
        if self.encryption_keys is None and self.encryption_key_file is None:
            problems.append(
                "no encryption key (JIRABRIDGE_ENCRYPTION_KEYS or JIRABRIDGE_ENCRYPTION_KEY_FILE)"
            )
        if self.allow_private_jira_urls:
            problems.append("JIRABRIDGE_ALLOW_PRIVATE_JIRA_URLS is on")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self

    @property
    def effective_database_url(self) -> str:
        """The application database URL (SQLite file in the data dir by default)."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'jirabridge.sqlite'}"

    @property
    def effective_jobs_database_url(self) -> str:
        """DBOS's system database: its own SQLite file, or the app's PostgreSQL server."""
        if self.jobs_database_url:
            return self.jobs_database_url
        url = self.effective_database_url
        if url.startswith("postgresql"):
            return url
        return f"sqlite:///{self.data_dir / 'dbos.sqlite'}"

    @property
    def is_sqlite(self) -> bool:
        """True when the application database is SQLite (single-host mode)."""
        return self.effective_database_url.startswith("sqlite")


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from overrides, the environment and an optional TOML file.

    Raises :class:`~jirabridge.errors.ConfigError` with every problem in one sentence.
    """
    from pydantic import ValidationError as PydanticValidationError

    if config_file is None and os.environ.get("JIRABRIDGE_CONFIG"):
        config_file = Path(os.environ["JIRABRIDGE_CONFIG"])
    cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file not found: {config_file}")
        cls = type(
            "Settings",
            (Settings,),
            {"model_config": {**Settings.model_config, "toml_file": config_file}},
        )
    try:
        return cls(**overrides)
    except PydanticValidationError as exc:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            parts.append(f"{where}: {err['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(parts)) from None
