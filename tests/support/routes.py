"""Every route an app serves, for tests that must not let a new route slip past them."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.routing import _IncludedRouter
from starlette.routing import BaseRoute, Mount

__all__ = ["app_routes"]


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, routers included (a new route cannot hide)."""

    def walk(routes: list[BaseRoute]) -> Iterator[tuple[str, str]]:
        for route in routes:
            if isinstance(route, _IncludedRouter):
                for ctx in route.effective_route_contexts():
                    original = ctx.original_route
                    path = ctx.path or getattr(ctx.starlette_route or original, "path", "")
                    if isinstance(original, Mount):
                        yield "MOUNT", path
                    for method in getattr(original, "methods", None) or ():
                        yield method, path
            elif isinstance(route, Mount):
                yield "MOUNT", route.path
            else:
                for method in getattr(route, "methods", None) or ():
                    yield method, getattr(route, "path", "")

    return sorted({(m, p) for m, p in walk(list(app.routes)) if m != "HEAD"})
