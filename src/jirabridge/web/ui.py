"""The UI shell: templates, navigation and flash messages shared by every page.

Pages render ``base.html``; a feature adds itself to the navigation with :func:`add_nav_item`
when its router is included, so the menu never lists a page that does not exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.templating import _TemplateResponse

from jirabridge import __version__

__all__ = [
    "FLASH_COOKIE",
    "NavItem",
    "add_nav_item",
    "flash",
    "render",
    "templates",
    "toast_header",
]

FLASH_COOKIE = "jb_flash"
FlashLevel = Literal["info", "success", "warning", "error"]


@dataclass(frozen=True)
class NavItem:
    """One entry of the main navigation."""

    label: str
    path: str
    order: int = 100


_NAV: dict[str, NavItem] = {}


def add_nav_item(label: str, path: str, order: int = 100) -> None:
    """Show ``label`` in the navigation, linking to ``path``. Idempotent per path."""
    _NAV[path] = NavItem(label, path, order)


def nav_items() -> list[NavItem]:
    """The navigation, in display order."""
    return sorted(_NAV.values(), key=lambda item: (item.order, item.label))


templates = Jinja2Templates(directory=str(files("jirabridge.web") / "templates"))
templates.env.globals["version"] = __version__
templates.env.globals["nav_items"] = nav_items


def _serializer(request: Request) -> URLSafeSerializer:
    secret: str = request.app.state.settings.secret_key.get_secret_value()
    return URLSafeSerializer(secret, salt="jirabridge.flash")


def flash(request: Request, response: Response, text: str, level: FlashLevel = "info") -> None:
    """Queue a message shown on the next page the browser renders (signed cookie)."""
    messages = _read_flashes(request)
    messages.append({"level": level, "text": text})
    response.set_cookie(
        FLASH_COOKIE,
        _serializer(request).dumps(messages),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _read_flashes(request: Request) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        data = _serializer(request).loads(raw)
    except BadSignature:
        return []
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


def toast_header(text: str, level: FlashLevel = "info") -> dict[str, str]:
    """Headers that make an htmx response pop a toast (handled by static/app.js)."""
    return {"HX-Trigger": json.dumps({"jb:toast": {"level": level, "text": text}})}


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> _TemplateResponse:
    """Render a page with the shell's context; consumes pending flash messages."""
    flashes = _read_flashes(request)
    response = templates.TemplateResponse(
        request,
        template,
        {"flashes": flashes, "active_path": request.url.path, **(context or {})},
        status_code=status_code,
    )
    if flashes:
        response.delete_cookie(FLASH_COOKIE)
    return response
