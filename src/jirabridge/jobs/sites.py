"""The key of a Jira site: what per-site queues partition on and the write ledger scopes by.

Two connections to one site (two people's API tokens on ``acme.atlassian.net``) share that
site's rate limits and its issues, so their jobs must queue in one partition and their ledger
entries must meet. A connection id would split them; the site key does not. Cloud sites
reached through OAuth are named by their cloud id; everything else by its normalised base URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from jirabridge.errors import ValidationError

__all__ = ["site_key"]


def site_key(base_url: str, cloud_id: str | None = None) -> str:
    """``cloud:<id>`` when the cloud id is known, else ``scheme://host[:port]/path`` lower-cased
    host, default port dropped, no trailing slash. Raises ValidationError for a URL without a
    host."""
    if cloud_id and cloud_id.strip():
        return f"cloud:{cloud_id.strip().lower()}"
    parts = urlsplit((base_url or "").strip())
    if not parts.scheme or not parts.hostname:
        raise ValidationError(f"cannot tell the Jira site of {base_url!r}")
    scheme = parts.scheme.lower()
    default = {"https": 443, "http": 80}.get(scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    path = parts.path.rstrip("/")
    return f"{scheme}://{parts.hostname.lower()}{port}{path}"
