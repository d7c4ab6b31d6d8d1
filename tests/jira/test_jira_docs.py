"""Every ``python`` block in docs/client.md runs, in order, against the simulator on loopback."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

sim_server = pytest.importorskip("jirabridge.sim.server", reason="the simulator has not landed yet")
sim_app = pytest.importorskip("jirabridge.sim.app")

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks() -> list[str]:
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 8, "docs/client.md lost its examples"
    return blocks


def test_every_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    config = sim_app.SimConfig(seed=3, flavor="cloud")
    with sim_server.running_sim(config) as (base_url, app):
        runtime = app.state.sim
        monkeypatch.setenv("JIRA_URL", base_url)
        monkeypatch.setenv("JIRA_EMAIL", runtime.admin_email)
        monkeypatch.setenv("JIRA_TOKEN", runtime.admin_token)
        monkeypatch.delenv("JIRA_PAT", raising=False)
        namespace: dict[str, Any] = {"__name__": "client_md"}
        # One loop for every async block, so the client made in one block works in the next;
        # between blocks no loop runs, which the sync facade's block needs.
        with asyncio.Runner() as runner:
            for number, source in enumerate(_blocks(), start=1):
                code = compile(
                    source,
                    f"docs/client.md block {number}",
                    "exec",
                    flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                )
                if code.co_flags & inspect.CO_COROUTINE:
                    runner.run(eval(code, namespace))  # noqa: S307 - our own docs
                else:
                    exec(code, namespace)  # noqa: S102 - our own docs
        created = namespace["created"]
        assert created.key.startswith("DEMO-")
        site_issues = [i for i in runtime.site.issues.values() if i.key == created.key]
        assert len(site_issues) == 1
