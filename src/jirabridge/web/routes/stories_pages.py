"""Pages of the stories export: upload and preview, the profile editor, export with live
progress, history, and rollback (dry-run first).

Server-rendered on :class:`~jirabridge.service.stories.StoriesService`, the same service the
REST API (``/api/stories``) uses, so a page and an API call can never disagree. Every form
carries the session's CSRF token (a ``csrf_token`` field, or the ``X-CSRF-Token`` header htmx
sends from the layout's ``hx-headers``). Progress comes from the API's server-sent events
(``static/stories.js``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError
from starlette.datastructures import FormData, UploadFile

from jirabridge.errors import JirabridgeError, NotFoundError, ValidationError
from jirabridge.service.stories import ExportRequest, ProfileInput, RollbackRequest
from jirabridge.web.auth import AccountsDep, Caller, login_redirect, optional_caller, verify_csrf
from jirabridge.web.routes.stories_api import ServiceDep
from jirabridge.web.ui import add_nav_item, flash, render, templates

__all__ = ["extra_field_value", "router"]

router = APIRouter(include_in_schema=False)
add_nav_item("Stories", "/stories", order=40)
add_nav_item("Exports", "/stories/exports", order=41)

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]

#: Fields the export fills itself: the editor does not ask for them.
_FILLED = frozenset({"summary", "issuetype", "project", "description", "parent", "reporter"})
#: Largest stories file the upload form takes (the API's limit).
MAX_UPLOAD = 5_000_000


async def _page(
    request: Request,
    template: str,
    caller: Caller,
    ctx: Any,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    rows = await ctx.connections.list(caller.user.id)
    indicator = {
        "count": sum(1 for r in rows if r.is_active and not r.needs_reconnect),
        "needs_reconnect": any(r.needs_reconnect for r in rows),
    }
    return render(
        request,
        template,
        {"caller": caller, "indicator": indicator, "connections": rows, **(context or {})},
        status_code=status_code,
    )


async def _checked_form(request: Request, caller: Caller, ctx: Any) -> FormData:
    """The posted form, once its CSRF token is checked (403 without it)."""
    await verify_csrf(request, caller, ctx)
    return await request.form()


def _fragment(request: Request, template: str, context: dict[str, Any]) -> Response:
    # Not render(): a fragment must not consume the page's pending flash messages.
    return templates.TemplateResponse(request, template, context)


def _error_fragment(request: Request, message: str, status_code: int = 200) -> Response:
    # htmx swaps 2xx only: a refusal is shown in place with a 200.
    return templates.TemplateResponse(
        request, "stories/_error.html", {"message": message}, status_code=status_code
    )


def extra_field_value(schema: dict[str, Any] | None, raw: str) -> Any:
    """Turn what was typed for a required field into the value Jira takes for its type.

    ``schema`` is the field's createmeta schema (``type``, ``items``); lists are
    comma-separated. Unknown object types are referred to by name, as Jira allows.
    """
    text = raw.strip()
    kind = (schema or {}).get("type", "string")
    items = (schema or {}).get("items")
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            raise ValidationError(f"{text!r} is not a number") from None
    if kind == "array":
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if items in (None, "string"):
            return parts
        if items == "option":
            return [{"value": p} for p in parts]
        return [{"name": p} for p in parts]
    if kind in ("string", "date", "datetime", "any"):
        return text
    if kind == "option":
        return {"value": text}
    return {"name": text}


# -- upload and preview ---------------------------------------------------------------------


@router.get("/stories", response_class=HTMLResponse)
async def stories_page(
    request: Request, caller: OptionalCaller, ctx: AccountsDep, service: ServiceDep
) -> Response:
    """Upload a stories file with a profile, to preview its export."""
    if caller is None:
        return login_redirect(request)
    profiles = await service.list_profiles(caller.user.id)
    return await _page(request, "stories/upload.html", caller, ctx, {"profiles": profiles})


@router.post("/stories/preview", response_class=HTMLResponse)
async def preview_page(
    request: Request, caller: OptionalCaller, ctx: AccountsDep, service: ServiceDep
) -> Response:
    """The plan of the uploaded file: every issue as it will read, links, and problems (with
    their line). Nothing is written; the Export button carries this plan's id."""
    if caller is None:
        return login_redirect(request)
    form = await _checked_form(request, caller, ctx)
    upload = form.get("file")
    profile_id = str(form.get("profile_id") or "")
    filename, content = "", ""
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise ValidationError("the file is larger than 5 MB")
        try:
            content = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("the file is not UTF-8 text") from None
        filename = upload.filename
    else:
        filename = str(form.get("filename") or "")
        content = str(form.get("content") or "")
    profiles = await service.list_profiles(caller.user.id)
    if not profile_id or not filename:
        return await _page(
            request,
            "stories/upload.html",
            caller,
            ctx,
            {"profiles": profiles, "error": "Choose a profile and a stories file."},
            status_code=422,
        )
    body = ExportRequest(filename=filename, content=content, profile_id=profile_id)
    try:
        preview = (await service.preview(caller.user.id, body)).as_dict()
    except JirabridgeError as exc:
        return await _page(
            request,
            "stories/upload.html",
            caller,
            ctx,
            {"profiles": profiles, "error": exc.message, "profile_id": profile_id},
            status_code=422,
        )
    return await _page(
        request,
        "stories/preview.html",
        caller,
        ctx,
        {"preview": preview, "filename": filename, "content": content, "profile_id": profile_id},
    )


@router.post("/stories/exports", response_class=HTMLResponse)
async def start_export_page(
    request: Request, caller: OptionalCaller, ctx: AccountsDep, service: ServiceDep
) -> Response:
    """Start the previewed export, then follow it on its page."""
    if caller is None:
        return login_redirect(request)
    form = await _checked_form(request, caller, ctx)
    body = ExportRequest(
        filename=str(form.get("filename") or ""),
        content=str(form.get("content") or ""),
        profile_id=str(form.get("profile_id") or "") or None,
        plan_id=str(form.get("plan_id") or "") or None,
    )
    try:
        export_id = await service.start_export(caller.user.id, body)
    except JirabridgeError as exc:
        response: Response = RedirectResponse("/stories", status_code=303)
        flash(request, response, f"Not exported: {exc.message}", "error")
        return response
    return RedirectResponse(f"/stories/exports/{export_id}", status_code=303)


# -- history, progress, rollback ------------------------------------------------------------


@router.get("/stories/exports", response_class=HTMLResponse)
async def exports_page(
    request: Request,
    caller: OptionalCaller,
    ctx: AccountsDep,
    service: ServiceDep,
    page: int = 1,
) -> Response:
    """Export history, newest first: who, when, counts."""
    if caller is None:
        return login_redirect(request)
    size = 50
    page = max(page, 1)
    items, total = await service.list_exports(caller.user.id, offset=(page - 1) * size, limit=size)
    return await _page(
        request,
        "stories/exports.html",
        caller,
        ctx,
        {"exports": items, "total": total, "page": page, "pages": max(1, -(-total // size))},
    )


@router.get("/stories/exports/{export_id}", response_class=HTMLResponse)
async def export_page(
    request: Request, caller: OptionalCaller, ctx: AccountsDep, service: ServiceDep, export_id: str
) -> Response:
    """One export: live progress while it runs, per-item results with Jira links, rollback."""
    if caller is None:
        return login_redirect(request)
    export = await service.get_export(caller.user.id, export_id)
    return await _page(request, "stories/export.html", caller, ctx, {"export": export})


def _rollback_request(form: Any, *, dry_run: bool) -> RollbackRequest:
    try:
        return RollbackRequest(
            mode=str(form.get("mode") or "delete"),
            force=form.get("force") in ("on", "true", "1"),
            to_status=str(form.get("to_status") or "") or None,
            dry_run=dry_run,
        )
    except PydanticValidationError as exc:
        raise ValidationError(f"rollback: {exc.errors()[0]['msg']}") from None


@router.post("/stories/exports/{export_id}/rollback", response_class=HTMLResponse)
async def rollback_fragment(
    request: Request, caller: OptionalCaller, ctx: AccountsDep, service: ServiceDep, export_id: str
) -> Response:
    """htmx: the rollback plan (``apply`` absent) or its outcome (``apply=1``)."""
    if caller is None:
        return login_redirect(request)
    form = await _checked_form(request, caller, ctx)
    apply = form.get("apply") == "1"
    try:
        rollback = await service.rollback(
            caller.user.id, export_id, _rollback_request(form, dry_run=not apply)
        )
    except NotFoundError as exc:
        return _error_fragment(request, exc.message, status_code=404)
    except JirabridgeError as exc:
        return _error_fragment(request, exc.message)
    return _fragment(
        request,
        "stories/_rollback.html",
        {"rollback": rollback, "export_id": export_id, "caller": caller},
    )


@router.post("/stories/exports/{export_id}/refresh-status", response_class=HTMLResponse)
async def refresh_status_page(
    request: Request, caller: OptionalCaller, ctx: AccountsDep, service: ServiceDep, export_id: str
) -> Response:
    """Read every exported issue's Jira status now, then show the export again."""
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    response: Response = RedirectResponse(f"/stories/exports/{export_id}", status_code=303)
    try:
        await service.refresh_status(caller.user.id, export_id)
    except NotFoundError:
        raise  # someone else's export (or none): 404, not a redirect to a page that 404s
    except JirabridgeError as exc:
        flash(request, response, exc.message, "error")
    return response


# -- profiles -------------------------------------------------------------------------------


@router.get("/stories/profiles/new", response_class=HTMLResponse)
async def new_profile_page(request: Request, caller: OptionalCaller, ctx: AccountsDep) -> Response:
    """The profile editor, empty."""
    if caller is None:
        return login_redirect(request)
    return await _page(request, "stories/profile.html", caller, ctx, {"profile": None})


@router.get("/stories/profiles/{profile_id}", response_class=HTMLResponse)
async def edit_profile_page(
    request: Request,
    caller: OptionalCaller,
    ctx: AccountsDep,
    service: ServiceDep,
    profile_id: str,
) -> Response:
    """The profile editor for a saved profile."""
    if caller is None:
        return login_redirect(request)
    profile = await service.get_profile(caller.user.id, profile_id)
    return await _page(request, "stories/profile.html", caller, ctx, {"profile": profile})


@router.get("/stories/ui/projects", response_class=HTMLResponse)
async def projects_fragment(
    request: Request,
    caller: OptionalCaller,
    service: ServiceDep,
    connection_id: str = "",
    project: str = "",
) -> Response:
    """htmx: the project picker for a connection, listed from Jira."""
    if caller is None:
        return HTMLResponse("", status_code=401)
    if not connection_id:
        return _fragment(request, "stories/_projects.html", {"projects": [], "selected": ""})
    try:
        projects = await service.projects(caller.user.id, connection_id)
    except JirabridgeError as exc:
        return _error_fragment(request, exc.message)
    return _fragment(request, "stories/_projects.html", {"projects": projects, "selected": project})


@router.get("/stories/ui/mapping", response_class=HTMLResponse)
async def mapping_fragment(
    request: Request,
    caller: OptionalCaller,
    service: ServiceDep,
    connection_id: str = "",
    project: str = "",
    profile_id: str = "",
) -> Response:
    """htmx: issue types per level, the site's story points field, and an input for every
    field a chosen type requires that the export does not fill itself."""
    if caller is None:
        return HTMLResponse("", status_code=401)
    if not connection_id or not project:
        return HTMLResponse('<p class="muted">Choose a connection and a project.</p>')
    try:
        options = await service.mapping_options(caller.user.id, connection_id, project)
        saved = await service.get_profile(caller.user.id, profile_id) if profile_id else None
    except JirabridgeError as exc:
        return _error_fragment(request, exc.message)
    settings = dict(saved["settings"]) if saved else {}
    return _fragment(
        request,
        "stories/_mapping.html",
        {"options": options, "settings": settings, "asked": _asked_fields(options, settings)},
    )


def _asked_fields(
    options: dict[str, Any], settings: dict[str, Any], types: set[str] | None = None
) -> list[dict[str, Any]]:
    """The required fields to ask for: those the chosen issue types (``types``; default: the
    profile's epic and story types, else the site's) require without a default and that the
    export does not fill itself."""
    if types is None:
        levels = options.get("levels") or {}
        types = {
            str(settings.get("epic_type") or levels.get("epic") or "Epic"),
            str(settings.get("story_type") or levels.get("story") or "Story"),
        }
    filled = set(_FILLED)
    for name in ("story_points_field", "epic_link_field", "epic_name_field"):
        field = options.get(name)
        if isinstance(field, dict):
            filled.add(str(field["id"]))
    extra = settings.get("extra_fields") or {}
    asked: dict[str, dict[str, Any]] = {}
    for type_name, fields in (options.get("fields") or {}).items():
        if type_name not in types:
            continue
        for field in fields:
            fid = str(field["id"])
            if field["required"] and not field["has_default"] and fid not in filled:
                entry = asked.setdefault(
                    fid,
                    {
                        "id": fid,
                        "name": field["name"],
                        "schema": field.get("schema"),
                        "types": [],
                        "value": _shown(extra.get(fid)),
                    },
                )
                entry["types"].append(type_name)
    return list(asked.values())


def _shown(value: Any) -> str:
    """A stored field value as the editor shows it (the inverse of extra_field_value)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return str(value.get("name") or value.get("value") or value.get("id") or "")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@router.post("/stories/profiles", response_class=HTMLResponse)
async def save_profile(
    request: Request, caller: OptionalCaller, ctx: AccountsDep, service: ServiceDep
) -> Response:
    """Create or update a profile from the editor's form."""
    if caller is None:
        return login_redirect(request)
    form = await _checked_form(request, caller, ctx)
    profile_id = str(form.get("profile_id") or "")
    try:
        data = await _profile_input(form, caller, service)
        if profile_id:
            saved = await service.update_profile(caller.user.id, profile_id, data)
        else:
            saved = await service.create_profile(caller.user.id, data)
    except (JirabridgeError, PydanticValidationError) as exc:
        message = exc.message if isinstance(exc, JirabridgeError) else _pydantic_message(exc)
        current = {
            "id": profile_id or None,
            "name": str(form.get("name") or ""),
            "connection_id": str(form.get("connection_id") or "") or None,
            "settings": {"project": str(form.get("project") or "")},
        }
        return await _page(
            request,
            "stories/profile.html",
            caller,
            ctx,
            {"profile": current, "error": message},
            status_code=422,
        )
    response: Response = RedirectResponse(f"/stories?profile_id={saved['id']}", status_code=303)
    flash(request, response, f"Profile {saved['name']!r} saved.", "success")
    return response


def _pydantic_message(exc: PydanticValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}"


async def _profile_input(form: Any, caller: Caller, service: Any) -> ProfileInput:
    connection_id = str(form.get("connection_id") or "")
    project = str(form.get("project") or "")
    if not connection_id or not project:
        raise ValidationError("choose a connection and a project")
    options = await service.mapping_options(caller.user.id, connection_id, project)
    settings: dict[str, Any] = {"project": project, "flavor": options["flavor"]}
    for name in ("epic_type", "story_type", "criteria_style"):
        value = str(form.get(name) or "")
        if value:
            settings[name] = value
    points = str(form.get("story_points_field") or "")
    settings["story_points_field"] = points or None
    for name in ("epic_link_field", "epic_name_field"):
        field = options.get(name)
        if isinstance(field, dict):
            settings[name] = field["id"]
    label = str(form.get("label") or "").strip()
    settings["label"] = label or None
    extra: dict[str, Any] = {}
    components = [c.strip() for c in str(form.get("components") or "").split(",") if c.strip()]
    if components:
        extra["components"] = [{"name": c} for c in components]
    for field in _asked_fields(options, settings):
        raw = str(form.get(f"extra__{field['id']}") or "")
        if not raw.strip():
            raise ValidationError(f"{field['name']} is required by {', '.join(field['types'])}")
        extra[field["id"]] = extra_field_value(field["schema"], raw)
    if extra:
        settings["extra_fields"] = extra
    return ProfileInput(
        name=str(form.get("name") or ""), connection_id=connection_id, settings=settings
    )
