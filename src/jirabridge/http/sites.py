"""One name per Jira (or GitHub) site, whatever URL spelling a connection was made with.

Jira's rate limits, per-issue write windows and the ordering of writes belong to a *site*, not
to a connection: two users' connections to ``https://acme.atlassian.net`` and
``https://ACME.atlassian.net:443/`` share one budget. Everything keyed per site — the
rate-limit governor's state, the durable job queues' partitions, the write ledger — uses
:func:`site_key` so that those spellings meet under one key.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from jirabridge.errors import ValidationError

__all__ = ["OAUTH_GATEWAY_HOST", "site_key"]

#: Where OAuth 2.0 (3LO) apps reach a Cloud site: ``https://api.atlassian.com/ex/jira/{cloudId}``.
OAUTH_GATEWAY_HOST: Final = "api.atlassian.com"
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


def site_key(base_url: str | None, *, cloud_id: str | None = None) -> str:
    """The key of the site ``base_url`` points at: ``host[:port][/context-path]``.

    Normalised so that equal sites give equal keys: the scheme, a default port, user
    information, query, fragment and trailing slashes are dropped; the host is lower-cased; a
    Data Center context path (``/jira``) is kept, since two paths on one host can be two
    instances. An OAuth gateway URL gives ``api.atlassian.com/ex/jira/<cloudId>``, and so does
    a ``cloud_id`` when there is no ``base_url``. When both are given the site URL wins, so an
    OAuth connection (which stores its site URL) and a token connection to the same site share
    one key.

    Raises :class:`~jirabridge.errors.ValidationError` when neither names a site.
    """
    text = (base_url or "").strip()
    if not text:
        cloud = (cloud_id or "").strip()
        if not cloud or "/" in cloud:
            raise ValidationError("a site needs a base URL or a cloud id")
        return f"{OAUTH_GATEWAY_HOST}/ex/jira/{cloud}"
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"not a site URL: {base_url!r}") from exc
    host = (parts.hostname or "").lower()
    if not host:
        raise ValidationError(f"not a site URL: {base_url!r}")
    if ":" in host:  # an IPv6 literal keeps its brackets so a port stays unambiguous
        host = f"[{host}]"
    scheme = parts.scheme.lower()
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    return f"{host}{path}"
