"""Vendored front-end files are the ones we recorded, and no page loads anything from elsewhere."""

from __future__ import annotations

import hashlib
import re
from importlib.resources import files
from pathlib import Path

HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"

WEB = Path(str(files("jirabridge.web")))


def test_vendored_htmx_matches_its_recorded_checksum() -> None:
    data = (WEB / "static" / "vendor" / "htmx-2.0.11.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == HTMX_SHA256
    table = (WEB / "static" / "vendor" / "VENDORED.md").read_text()
    assert HTMX_SHA256 in table


def test_templates_load_nothing_from_another_origin() -> None:
    external = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)
    offenders = [
        str(path.relative_to(WEB))
        for path in (WEB / "templates").rglob("*.html")
        if external.search(path.read_text())
    ]
    assert offenders == []
