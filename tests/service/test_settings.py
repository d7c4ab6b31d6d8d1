from __future__ import annotations

from pathlib import Path

import pytest

from jirabridge.errors import ConfigError
from jirabridge.service.settings import DEV_SECRET_KEY, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("JIRABRIDGE_"):
            monkeypatch.delenv(name)


def test_defaults_put_sqlite_files_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path}/jirabridge.sqlite"
    assert settings.effective_jobs_database_url == f"sqlite:///{tmp_path}/dbos.sqlite"
    assert settings.is_sqlite


def test_default_data_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert load_settings().data_dir == tmp_path / "jirabridge"


def test_environment_overrides_and_postgres_shares_the_jobs_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1/jb"
    monkeypatch.setenv("JIRABRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("JIRABRIDGE_PORT", "9000")
    settings = load_settings()
    assert settings.port == 9000
    assert settings.effective_jobs_database_url == url
    assert not settings.is_sqlite


def test_toml_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "jirabridge.toml"
    config.write_text('port = 7000\nhost = "0.0.0.0"\nlog_json = true\n')
    monkeypatch.setenv("JIRABRIDGE_PORT", "7001")
    settings = load_settings(config)
    assert settings.host == "0.0.0.0"
    assert settings.log_json is True
    assert settings.port == 7001


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_bad_values_name_the_field() -> None:
    with pytest.raises(ConfigError, match="port"):
        load_settings(port=0)


def test_production_refuses_development_secrets() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environment="production")
    message = str(info.value)
    assert "development default" in message
    assert "encryption key" in message


def test_production_starts_with_real_secrets() -> None:
    settings = load_settings(environment="production", secret_key="x" * 40, encryption_keys="k1,k2")
    assert settings.environment == "production"


def test_secrets_never_show_in_repr() -> None:
    settings = Settings(secret_key="super-secret-value-1234567890-abcdef", oauth_client_secret="cs")
    assert "super-secret-value" not in repr(settings)
    assert DEV_SECRET_KEY not in repr(Settings())
