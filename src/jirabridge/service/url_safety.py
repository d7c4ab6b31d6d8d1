"""Is this Jira base URL safe to call from the server? (SSRF guard.)

A user-supplied Jira URL makes our server send requests, with credentials, wherever it points.
So it must be https, carry no user info, query or fragment, and every address its host resolves
to must be public. Private, loopback, link-local, shared, reserved, multicast and unspecified
addresses are refused unless the operator allows them (``allow_private``: the demo, whose
simulator listens on loopback over plain http).

The resolver is injectable so tests never touch DNS. A check at save time does not stop DNS
rebinding later; the HTTP layer would have to pin addresses for that (not done here).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

from jirabridge.errors import ValidationError

__all__ = ["Resolver", "UnsafeUrlError", "check_jira_url", "system_resolver"]

#: Resolves ``(host, port)`` to the IP address strings it maps to.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class UnsafeUrlError(ValidationError):
    """The URL is malformed, not https, or points at an address we refuse to call."""

    code = "unsafe-url"


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """Resolve with the operating system (``getaddrinfo``), all address families."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _why_refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "a non-public address"
    return None


async def check_jira_url(
    url: str,
    *,
    allow_private: bool = False,
    resolver: Resolver | None = None,
) -> str:
    """Validate ``url`` and return it normalised (lower-case host, no trailing slash).

    Raises :class:`UnsafeUrlError` with a message fit to show the user. With
    ``allow_private``, hosts resolving only to non-public addresses may also use plain http.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrlError("the Jira URL is not a valid URL") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrlError("the Jira URL must look like https://your-site.atlassian.net")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrlError("the Jira URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise UnsafeUrlError("the Jira URL must not contain a query string or fragment")
    host = parts.hostname.lower()
    effective_port = port or (443 if parts.scheme == "https" else 80)

    try:
        literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: Sequence[str] = [str(literal)]
    else:
        try:
            addresses = await (resolver or system_resolver)(host, effective_port)
        except OSError as exc:
            raise UnsafeUrlError(f"the Jira host {host} cannot be resolved") from exc
        if not addresses:
            raise UnsafeUrlError(f"the Jira host {host} cannot be resolved")

    refusals = []
    for raw in addresses:
        try:
            reason = _why_refused(ipaddress.ip_address(raw))
        except ValueError:
            reason = "an unparseable address"
        if reason is not None:
            refusals.append(reason)
    all_private = len(refusals) == len(addresses)
    if refusals and not allow_private:
        raise UnsafeUrlError(
            f"the Jira host {host} resolves to {refusals[0]}; such hosts are refused unless "
            "the administrator allows private Jira URLs"
        )
    if parts.scheme != "https" and not (allow_private and all_private):
        raise UnsafeUrlError("the Jira URL must use https")

    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
