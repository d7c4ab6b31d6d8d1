"""The shell's own pages: the dashboard and its fragments."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jirabridge.errors import JirabridgeError
from jirabridge.store import db
from jirabridge.web.deps import RuntimeDep
from jirabridge.web.ui import add_nav_item, render, toast_header

router = APIRouter(include_in_schema=False)
add_nav_item("Dashboard", "/", order=0)


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The front page: what this instance is and how it is doing."""
    settings = runtime.settings
    return render(
        request,
        "dashboard.html",
        {
            "backend": "SQLite" if settings.is_sqlite else "PostgreSQL",
            "data_dir": str(settings.data_dir),
            "workers": runtime.jobs.config.run_workers,
            "uptime_s": int(time.time() - runtime.started_at),
        },
    )


@router.get("/ui/readiness", response_class=HTMLResponse)
async def readiness_fragment(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """htmx fragment: live readiness of the database and job engine."""
    checks: dict[str, str] = {}
    probes = {"Database": lambda: db.ping(runtime.engine), "Job engine": runtime.jobs.ping}
    for name, probe in probes.items():
        try:
            await probe()
            checks[name] = "ok"
        except JirabridgeError as exc:
            checks[name] = exc.message
    healthy = all(v == "ok" for v in checks.values())
    response = render(request, "fragments/readiness.html", {"checks": checks})
    response.headers.update(
        toast_header(
            "All systems ready." if healthy else "Something is not ready.",
            "success" if healthy else "error",
        )
    )
    return response
