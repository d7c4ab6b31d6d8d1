"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from jirabridge import __version__
from jirabridge.errors import JirabridgeError
from jirabridge.store import db
from jirabridge.web.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Touches nothing else."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz", response_model=None)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: the database and the job engine answer."""
    checks: dict[str, str] = {}
    ok = True
    probes = {"database": lambda: db.ping(runtime.engine), "jobs": runtime.jobs.ping}
    for name, probe in probes.items():
        try:
            await probe()
            checks[name] = "ok"
        except JirabridgeError as exc:
            ok = False
            checks[name] = exc.message
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks},
        status_code=200 if ok else 503,
    )
