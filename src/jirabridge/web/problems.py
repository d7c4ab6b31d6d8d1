"""One translation of errors to HTTP answers: ``application/problem+json`` (RFC 9457).

Every error that reaches the web boundary passes through here, so API clients always get the
same shape and never a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from jirabridge.errors import JirabridgeError

__all__ = ["install_problem_handlers", "problem"]

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
    return problem(exc.http_status, exc.message, code=exc.code, **extra)


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
    return problem(
        exc.status_code,
        str(exc.detail),
        code={404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error"),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Something went wrong on our side.", code="internal-error")


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(JirabridgeError, _jirabridge_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
