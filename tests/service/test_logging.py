"""The redaction filter, exercised through real logging calls and a real handler."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from jirabridge.service.logconfig import JsonFormatter, RedactingFilter, redact

API_TOKEN = "ATATT3xFfGF0T7hPq9nR2sL4kY6uW8zX1cV3bN5mQ7eR9tY1uI3oP5aS7dF9gH"
GH_TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqaXJhIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("jirabridge.test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_token_in_arguments_never_reaches_the_line(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("calling Jira with token %s for %s", API_TOKEN, "dev@example.com")
    out = stream.getvalue()
    assert API_TOKEN not in out
    assert "dev@example.com" in out  # the rest of the message survives


def test_headers_in_a_dict_argument_are_redacted(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    headers = {
        "Authorization": "Basic ZGV2QGV4YW1wbGUuY29tOnNlY3JldA==",
        "Cookie": "jb_session=abc123def456",
        "Accept": "application/json",
    }
    logger.warning("request headers: %s", headers)
    out = stream.getvalue()
    assert "ZGV2QGV4YW1wbGUuY29tOnNlY3JldA" not in out
    assert "abc123def456" not in out
    assert "application/json" in out


def test_extra_fields_with_secret_names_are_redacted(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info(
        "token refreshed",
        extra={"refresh_token": "r-123-secret", "site": "acme", "body": {"password": "hunter2"}},
    )
    (record,) = lines(stream)
    assert record["refresh_token"] == "[REDACTED]"
    assert record["body"] == {"password": "[REDACTED]"}
    assert record["site"] == "acme"
    assert "hunter2" not in stream.getvalue()


def test_exception_text_is_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError(f"upstream refused Bearer {GH_TOKEN}")
    except RuntimeError:
        logger.exception("sync failed")
    out = stream.getvalue()
    assert GH_TOKEN not in out
    assert "RuntimeError" in out


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("url https://jira.example.com/callback?code=AbC123xyz&state=s1", "AbC123xyz"),
        ("postgresql://app:pa55word@db.internal/jb", "pa55word"),
        (f"Authorization: JWT {JWT}", JWT),
        (f"payload token={JWT}", JWT),
        ('{"client_secret": "cs-very-secret"}', "cs-very-secret"),
        (f"key gAAAAABl{'x' * 40}", "gAAAAABl" + "x" * 40),
        ("password=hunter2&user=bob", "hunter2"),
    ],
)
def test_redact_removes_known_secret_forms(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_ordinary_text_is_left_alone() -> None:
    text = "GET /rest/api/3/issue/PROJ-1 answered status code 404 in 12 ms"
    assert redact(text) == text


def test_configured_handler_follows_the_current_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    from jirabridge.service.logconfig import configure_logging

    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    handler = configure_logging("INFO")
    try:
        first.close()  # what a test runner does with a captured stream
        monkeypatch.setattr("sys.stderr", second)
        logging.getLogger("jirabridge.test.stderr").warning("still heard")
        assert "still heard" in second.getvalue()
    finally:
        logging.getLogger().removeHandler(handler)
