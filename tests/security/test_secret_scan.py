"""Secret scan after a demo-seeded run: the database files, the logs and every API answer of a
crawl hold none of the known secrets in clear, and the answers and logs no token-shaped
high-entropy strings (ciphertext in the database is expected and fine).

Known secrets: the Jira API token of the demo connection, the OAuth client secret, both users'
passwords, both users' API keys, the webhook secrets, the service's secret key.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from jirabridge.service.logconfig import RedactingFilter
from security.routes import NOT_WALKED, ROUTES, fill, fill_any
from security.world import World, github_signature, submit_login

pytestmark = pytest.mark.slow

# "=" only as base64's trailing padding: inside a run it glues a query's name to its id
# ("connection=<uuid>" in a request log), which is no token.
_TOKENISH = re.compile(r"[A-Za-z0-9_\-+]{32,}=*")
#: Shown exactly once, on purpose, in the answer that creates them.
_SHOWN_ONCE = {("POST", "/api/keys"), ("POST", "/api/webhooks/endpoints")}


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def high_entropy_tokens(text: str) -> list[str]:
    """Base64/urlsafe-looking runs of 32+ characters with more than 4.3 bits per character
    (hex digests, UUIDs and ids stay below: hex carries at most 4)."""
    return [m for m in _TOKENISH.findall(text) if _entropy(m) > 4.3]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        # Production's handler redacts (decision 0003); the scan reads what it would write.
        self.addFilter(RedactingFilter())
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs() -> Iterator[_Capture]:
    handler = _Capture()
    root = logging.getLogger()
    watched = [logging.getLogger(n) for n in ("jirabridge", "httpx", "uvicorn", "dbos")]
    levels = [lg.level for lg in watched]
    root.addHandler(handler)
    for lg in watched:
        lg.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for lg, level in zip(watched, levels, strict=True):
            lg.setLevel(level)


def _crawl(world: World) -> list[tuple[str, str, Any]]:
    """Every GET route as the owner, then the operations that handle secrets."""
    answers: list[tuple[str, str, Any]] = []
    admin = world.admin
    for (method, path), rule in sorted(ROUTES.items()):
        if method != "GET" or (method, path) in NOT_WALKED or rule.face == "webhook":
            continue
        session = rule.face == "page"
        params = fill_any(rule.query, world.ids) if rule.query else None
        url = fill(path, rule.ids(world.ids))
        answers.append(
            (method, path, world.call(method, url, admin, session=session, params=params))
        )
    cid = world.ids["connection_id"]
    token = world.secrets["jira_api_token"]
    for method, path, kwargs in [
        ("PUT", f"/api/jira/connections/{cid}", {"json": {"secret": token}}),
        ("POST", f"/api/jira/connections/{cid}/test", {}),
        ("GET", f"/api/jira/connections/{cid}", {}),
        ("GET", "/api/audit", {}),
        ("POST", "/api/keys", {"json": {"name": "scan", "scopes": ["read"]}}),
        ("GET", "/api/keys", {}),
        ("GET", "/api/webhooks/endpoints", {}),
    ]:
        answers.append((method, path, world.call(method, path, admin, **kwargs)))
    # Failures that tend to echo what they were given.
    answers.append(
        (
            "POST",
            "/api/jira/connections",
            world.call(
                "POST",
                "/api/jira/connections",
                admin,
                json={
                    "name": "x",
                    "kind": "cloud_token",
                    "base_url": "ftp://x",
                    "email": "a@b.c",
                    "secret": token,
                },
            ),
        )
    )
    answers.append(
        (
            "GET",
            "/api/account",
            world.call(
                "GET", "/api/account", headers={"Authorization": f"Bearer {admin.api_key}x"}
            ),
        )
    )
    secret = world.secrets["webhook_secret"]
    body = b'{"action": "opened"}'
    answers.append(
        (
            "POST",
            "/webhooks/github",
            world.call(
                "POST",
                f"/webhooks/github/{world.ids['endpoint_id']}",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "issues",
                    "X-GitHub-Delivery": "scan-1",
                    "X-Hub-Signature-256": github_signature(body + b"!", secret),
                },
            ),
        )
    )
    failed_login = submit_login(world.client, admin.email, world.secrets["mallory_password"])
    answers.append(("POST", "/login", failed_login))
    return answers


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value and value in text]


def test_no_secret_in_answers_logs_or_database(world: World, captured_logs: _Capture) -> None:
    answers = _crawl(world)
    assert len(answers) > 40
    problems: list[str] = []
    for method, path, answer in answers:
        assert answer.status_code < 500, (method, path, answer.text[:300])
        if (method, path) in _SHOWN_ONCE:
            continue
        text = answer.text + "\n" + "\n".join(f"{k}: {v}" for k, v in answer.headers.items())
        for name in _leaks(text, world.secrets):
            problems.append(f"{method} {path} shows {name}")
        if "json" in answer.headers.get("content-type", ""):
            for token in high_entropy_tokens(answer.text):
                problems.append(f"{method} {path} holds a token-like string {token[:6]}...")
    log_text = "\n".join(captured_logs.lines)
    assert captured_logs.lines, "the crawl should have logged something"
    for name in _leaks(log_text, world.secrets):
        problems.append(f"logs show {name}")
    for token in high_entropy_tokens(log_text):
        problems.append(f"logs hold a token-like string {token[:6]}...")
    data_dir = world.settings.data_dir
    files = [p for p in data_dir.iterdir() if p.name.endswith((".sqlite", ".sqlite-wal"))]
    assert any(p.name == "jirabridge.sqlite" for p in files), files
    for path in files:
        raw = path.read_bytes()
        for name, value in world.secrets.items():
            if value.encode() in raw:
                problems.append(f"{path.name} holds {name} in clear")
    assert not problems, "\n".join(problems)


def test_the_scan_would_notice(world: World) -> None:
    # The detectors, on strings that must trip them.
    assert _leaks(f"x {world.secrets['jira_api_token']} y", world.secrets) == ["jira_api_token"]
    assert high_entropy_tokens(world.admin.api_key)
    assert high_entropy_tokens(world.secrets["webhook_secret"])
    assert not high_entropy_tokens("0123456789abcdef" * 4)
    assert not high_entropy_tokens("6603bfd2-4fd3-40ca-b017-44409641c3e2")
