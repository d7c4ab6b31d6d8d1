"""The events page: endpoints with their last event, linked issues with live badges, deliveries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from jirabridge.service.account_wiring import AccountsContext
from jirabridge.service.webhook_wiring import NewEndpoint, WebhooksContext, new_endpoint
from jirabridge.store.account_models import ConnectionKind
from jirabridge.store.webhook_models import EndpointKind, WebhookSource
from jirabridge.store.webhooks import list_deliveries, replay_deliveries
from jirabridge.web.auth import AccountsDep, Caller, login_redirect, optional_caller, verify_csrf
from jirabridge.web.routes.webhooks import (
    DeliveryOut,
    StatusLinkOut,
    WebhooksDep,
    health_of,
    owned_links,
    owner_of,
)
from jirabridge.web.ui import add_nav_item, render

__all__ = ["router"]

router = APIRouter(tags=["webhooks"], include_in_schema=False)
add_nav_item("Events", "/events", order=60)

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]


async def _page(
    request: Request,
    caller: Caller,
    ctx: AccountsContext,
    context: WebhooksContext,
    created: NewEndpoint | None = None,
    status_code: int = 200,
) -> Response:
    owner = await owner_of(context, caller)
    health = await health_of(context, owner)
    async with context.sessions() as session:
        deliveries = [DeliveryOut.of(d) for d in await list_deliveries(session, owner)]
        links = [StatusLinkOut.of(row) for row in await session.scalars(owned_links(owner))]
    return render(
        request,
        "webhooks/events.html",
        {
            "caller": caller,
            "health": health,
            "deliveries": deliveries,
            "links": links,
            "connections": await ctx.connections.list(caller.user.id),
            "created": created,
        },
        status_code=status_code,
    )


@router.get("/events", response_class=HTMLResponse)
async def events_page(
    request: Request, caller: OptionalCaller, ctx: AccountsDep, context: WebhooksDep
) -> Response:
    """Endpoint health, linked issues and deliveries of the caller."""
    if caller is None:
        return login_redirect(request)
    return await _page(request, caller, ctx, context)


@router.post("/events/endpoints", response_class=HTMLResponse)
async def add_endpoint_page(
    request: Request, caller: OptionalCaller, ctx: AccountsDep, context: WebhooksDep
) -> Response:
    """Add a Jira endpoint for one of the caller's connections; its secret is shown once.

    A token connection gets an admin webhook (generated secret, steps for Jira's admin page);
    an OAuth connection a dynamic one, which the schedules register.
    """
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    form = await request.form()
    connection_id = str(form.get("connection_id") or "")
    connection = await ctx.connections.get(caller.user.id, connection_id)
    kind = EndpointKind.DYNAMIC if connection.kind == ConnectionKind.OAUTH else EndpointKind.ADMIN
    created = await new_endpoint(
        context,
        await owner_of(context, caller),
        name=str(form.get("name") or "").strip() or connection.name,
        source=WebhookSource.JIRA,
        kind=kind,
        connection_id=connection.id,
    )
    # Rendered, not redirected: the secret must not travel in a URL or a cookie.
    return await _page(request, caller, ctx, context, created=created, status_code=201)


async def _replay(
    request: Request, caller: Caller | None, ctx: AccountsDep, context: WebhooksDep, pk: int | None
) -> Response:
    if caller is None:
        return login_redirect(request)
    await verify_csrf(request, caller, ctx)
    owner = await owner_of(context, caller)
    async with context.sessions() as session:
        await replay_deliveries(session, owner, now=datetime.now(UTC), delivery_pk=pk)
        await session.commit()
    return RedirectResponse("/events", status_code=303)


@router.post("/events/replay")
async def replay_all_page(
    request: Request, caller: OptionalCaller, ctx: AccountsDep, context: WebhooksDep
) -> Response:
    """Replay every dead delivery, back to the page."""
    return await _replay(request, caller, ctx, context, None)


@router.post("/events/{delivery_pk}/replay")
async def replay_one_page(
    delivery_pk: int,
    request: Request,
    caller: OptionalCaller,
    ctx: AccountsDep,
    context: WebhooksDep,
) -> Response:
    """Replay one delivery, back to the page."""
    return await _replay(request, caller, ctx, context, delivery_pk)
