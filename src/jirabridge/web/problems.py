"""One translation of errors to HTTP answers: ``application/problem+json`` (RFC 9457).

Every error that reaches the web boundary passes through here, so API clients always get the
same shape and never a stack trace.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from jirabridge.errors import JirabridgeError, TooManyRequestsError

__all__ = ["PROBLEM_SCHEMA", "declare_problem_responses", "install_problem_handlers", "problem"]

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://jirabridge.dev/problems/"


def problem(
    status: int, title: str, *, code: str, detail: str | None = None, **extra: Any
) -> JSONResponse:
    """Build a problem+json response."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


async def _jirabridge_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JirabridgeError)
    if exc.http_status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.code)
    extra: dict[str, Any] = {}
    if exc.details:
        extra["errors"] = exc.details
    response = problem(exc.http_status, exc.message, code=exc.code, **extra)
    if isinstance(exc, TooManyRequestsError):
        # Whole seconds, rounded up: a client that waits exactly this long gets through.
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
            "message": err["msg"],
        }
        for err in exc.errors()
    ]
    return problem(
        422,
        "The request is not valid.",
        code="validation-error",
        detail="; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors),
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(
        exc.status_code,
        str(exc.detail),
        code={404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error"),
    )
    # Starlette's own headers belong to the answer; its ``Allow`` names only the first route
    # that matched the path, so a 405 lists what every route of that path accepts instead.
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def _allowed_methods(request: Request) -> list[str]:
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Something went wrong on our side.", code="internal-error")


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(JirabridgeError, _jirabridge_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


#: The shape of every error body (RFC 9457), as an OpenAPI schema.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "description": "Per-field problems (a list) or per-item problems (a mapping).",
            "anyOf": [{"type": "array", "items": {}}, {"type": "object"}],
        },
    },
    "additionalProperties": True,
}

_ERROR_STATUSES = {
    "400": "The request cannot be processed as sent.",
    "401": "No valid session or API key.",
    "403": "Not allowed (scope, role, or a missing CSRF token).",
    "404": "No such object, or it is not yours.",
    "409": "Conflicts with the current state.",
    "422": "The request is not valid.",
    "429": "Too many requests; see Retry-After.",
    "500": "Something went wrong on our side.",
    "502": "Jira or GitHub answered with an error.",
    "503": "A dependency is unavailable; try again.",
}


def declare_problem_responses(app: FastAPI) -> None:
    """Make the OpenAPI document say what every operation can answer with on error.

    Done once over the generated document rather than route by route, so a route added later
    is covered without anyone remembering to; FastAPI's default 422 (``{"detail": [...]}``) is
    replaced, since :func:`install_problem_handlers` answers with a problem instead.
    """
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in _ERROR_STATUSES.items():
                    if status == "422" or status not in responses:
                        responses[status] = {"description": description, "content": content}
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
