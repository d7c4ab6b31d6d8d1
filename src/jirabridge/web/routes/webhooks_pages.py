"""The events page: endpoints with their last event, linked issues with live badges, deliveries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from jirabridge.store.webhooks import list_deliveries, list_endpoints, replay_deliveries
from jirabridge.web.auth import AccountsDep, Caller, login_redirect, optional_caller, verify_csrf
from jirabridge.web.routes.webhooks import (
    DeliveryOut,
    StatusLinkOut,
    WebhooksDep,
    endpoint_out,
    owned_links,
    owner_of,
)
from jirabridge.web.ui import add_nav_item, render

__all__ = ["router"]

router = APIRouter(tags=["webhooks"], include_in_schema=False)
add_nav_item("Events", "/events", order=60)

OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]


@router.get("/events", response_class=HTMLResponse)
async def events_page(request: Request, caller: OptionalCaller, context: WebhooksDep) -> Response:
    """Endpoints (health), linked issues and deliveries of the caller."""
    if caller is None:
        return login_redirect(request)
    owner = await owner_of(context, caller)
    async with context.sessions() as session:
        endpoints = [endpoint_out(context, e) for e in await list_endpoints(session, owner)]
        deliveries = [DeliveryOut.of(d) for d in await list_deliveries(session, owner)]
        links = [StatusLinkOut.of(row) for row in await session.scalars(owned_links(owner))]
    return render(
        request,
        "webhooks/events.html",
        {"caller": caller, "endpoints": endpoints, "deliveries": deliveries, "links": links},
    )


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
