"""The console's service library (客服知识库): what a merchant's agents answer with, written
by those who manage the service (``cs:manage``): canned replies with their shortcuts, macros
(saved actions run from the inbox), the knowledge base's articles, and the SLA policies that
set how soon conversations must be answered (服务时效: first response, next response,
resolution, counted in business hours), and the chat widgets of the merchant's own shops (the
script tag their pages carry and the sites it answers).

One merchant at a time (chosen like the Ad spend page: the first the user manages by default).
Each item is edited in place or deleted; the rules (unique shortcut and name, known variables,
lengths) are the customer-service service's, and a refusal comes back as its kind.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.platform.customer_service import knowledge, macros, widget
from daiyun.platform.customer_service import service as cs
from daiyun.platform.customer_service.rules import DAYS, VARIABLES
from daiyun.platform.customer_service.schemas import (
    ArticleIn,
    ArticleRead,
    CannedReplyIn,
    CannedReplyRead,
    Channel,
    MacroIn,
    MacroRead,
    Priority,
    SlaPolicyIn,
    SlaPolicyRead,
    State,
    WidgetIn,
    WidgetUpdate,
)
from daiyun.portal.console import access
from daiyun.portal.views.console import Staff, _back, _staff_only, _submit, _text
from daiyun.portal.views.merchant.common import N_
from daiyun.portal.web import PREFIX, Page, PortalRoute, render, tenant_form
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
ManageForm = Annotated[tuple[Page, FormData], Depends(tenant_form(Permission.cs_manage))]
HERE = f"{PREFIX}/console/service-library"
PRIORITY_LABELS = {
    Priority.low.value: N_("Low"),
    Priority.normal.value: N_("Normal"),
    Priority.high.value: N_("High"),
    Priority.urgent.value: N_("Urgent"),
}
# Items of each kind shown (a merchant's library is tens of entries, not thousands).
SHOWN = 200


def _read(session: Any) -> dict[str, list[Any]]:
    """Read while the merchant's unit of work is open (the rows are gone after it)."""
    return {
        "canned": [
            CannedReplyRead.model_validate(r) for r in macros.find_canned(session, None, SHOWN)[0]
        ],
        "macros": [MacroRead.model_validate(r) for r in macros.find(session, None, SHOWN)[0]],
        "articles": [
            ArticleRead.model_validate(r) for r in knowledge.find(session, None, None, SHOWN)[0]
        ],
        "policies": [SlaPolicyRead.model_validate(r) for r in cs.policies(session)],
        "widgets": [widget.read(w) for w in widget.find_widgets(session, None, SHOWN)[0]],
        "shops": widget.shops(session),
    }


def hours_text(hours: dict[str, list[list[str]]]) -> str:
    """A policy's business hours as the form shows them: a line per weekday."""
    return "\n".join(
        f"{day} " + " ".join(f"{a}-{b}" for a, b in hours[day]) for day in DAYS if day in hours
    )


@router.get("/console/service-library")
def library(request: Request, page: Staff) -> Response:
    """The chosen merchant's canned replies, macros and articles, with their forms."""
    managed = access.with_permission(access.accessible(page.db, page.user), Permission.cs_manage)
    merchants = sorted((a.tenant for a in managed), key=lambda t: t.display_name.lower())
    wanted = request.query_params.get("tenant")
    chosen = next((t for t in merchants if t.slug == wanted), merchants[0] if merchants else None)
    items: dict[str, list[Any]] | None = None
    if chosen is not None:
        with access.tenant_unit(chosen.id, page.user.id) as session:
            items = access.quietly(lambda: _read(session))
            session.rollback()
    return render(
        request,
        "console/service_library.html",
        {
            "merchants": merchants,
            "chosen": chosen,
            "items": items,
            "variables": VARIABLES,
            "priorities": PRIORITY_LABELS,
            "channels": [c.value for c in Channel],
            "hours_text": hours_text,
            "error": request.query_params.get("error", ""),
            "done": request.query_params.get("done", ""),
        },
        page=page,
    )


def _tags(form: FormData, name: str) -> list[str]:
    return [
        t for t in (p.strip() for p in _text(form, name, 1000).replace("，", ",").split(",")) if t
    ]


def _canned(form: FormData) -> CannedReplyIn:
    return CannedReplyIn(
        shortcut=_text(form, "shortcut", 40),
        title=_text(form, "title", 120),
        body=_text(form, "body", 20_000),
    )


def _macro(form: FormData) -> MacroIn:
    priority, then = _text(form, "priority"), _text(form, "then")
    return MacroIn(
        name=_text(form, "name", 120),
        add_labels=_tags(form, "add_labels"),
        priority=Priority(priority) if priority else None,
        assign_to_me=form.get("assign_to_me") == "1",
        note=_text(form, "note", 20_000) or None,
        reply=_text(form, "reply", 20_000) or None,
        then=State(then) if then else None,
    )


def _article(form: FormData) -> ArticleIn:
    return ArticleIn(
        title=_text(form, "title", 200),
        body=_text(form, "body", 20_000),
        tags=_tags(form, "tags"),
    )


def _hours(form: FormData) -> dict[str, list[list[str]]]:
    """``mon 09:00-12:00 13:00-18:00``, a line per weekday, as the policy's hours (the
    policy's own rules then check the times)."""
    hours: dict[str, list[list[str]]] = {}
    for line in _text(form, "business_hours", 2000).splitlines():
        day, *spans = line.replace("，", " ").replace(",", " ").split()
        if day.lower() not in DAYS or day.lower() in hours:
            raise ValueError(f"a line per weekday, starting with one of {', '.join(DAYS)}")
        hours[day.lower()] = [span.split("-", 1) for span in spans]
    return hours


def _number(form: FormData, name: str) -> int | None:
    value = _text(form, name, 10)
    return int(value) if value else None  # not a number: ValueError, the form is refused


def _policy(form: FormData) -> SlaPolicyIn:
    priority, channel = _text(form, "priority"), _text(form, "channel")
    return SlaPolicyIn(
        name=_text(form, "name", 120),
        position=100 if (position := _number(form, "position")) is None else position,
        priority=Priority(priority) if priority else None,
        channel=Channel(channel) if channel else None,
        label=_text(form, "label", 40) or None,
        first_response_minutes=_number(form, "first_response_minutes"),
        next_response_minutes=_number(form, "next_response_minutes"),
        resolution_minutes=_number(form, "resolution_minutes"),
        business_hours=_hours(form),
        holidays=[d for d in re.split(r"[\s,，]+", _text(form, "holidays", 8000)) if d],
    )


def _widget(form: FormData) -> WidgetIn:
    return WidgetIn(
        shop_id=uuid.UUID(_text(form, "shop_id", 36)),
        allowed_origins=_text(form, "allowed_origins", 5000).split(),
        greeting=_text(form, "greeting", 300),
        enabled=form.get("enabled") == "1",
    )


def _update_widget(session: Any, widget_id: uuid.UUID, body: WidgetIn) -> object:
    # The shop stays the widget's own: only what the form may change is passed on.
    changes = WidgetUpdate(
        allowed_origins=body.allowed_origins, greeting=body.greeting, enabled=body.enabled
    )
    return widget.update_widget(session, widget_id, changes)


# What each kind is made of and done with: (form reader, create, update, delete). SLA
# policies are not deleted (conversations keep the policy their clocks started under).
_ACTIONS: dict[str, tuple[Any, Any, Any, Any]] = {
    "canned": (_canned, macros.create_canned, macros.update_canned, macros.delete_canned),
    "macros": (_macro, macros.create, macros.update, macros.delete),
    "articles": (_article, knowledge.create, knowledge.update, knowledge.delete),
    "policies": (_policy, cs.create_policy, cs.update_policy, None),
    # A chat widget is switched off, not deleted: its key may still sit in a shop's pages.
    "widgets": (_widget, widget.create_widget, _update_widget, None),
}


@router.post("/t/{tenant}/service-library/{kind}")
def create(submitted: ManageForm, kind: str) -> Response:
    """A new canned reply, macro or article."""
    page, form = submitted
    _staff_only(page)
    assert page.tenant is not None
    here = f"{HERE}?tenant={page.tenant.slug}"
    if kind not in _ACTIONS:
        return _back(form, here, error="bad-form")
    read, make, _, _ = _ACTIONS[kind]
    return _submit(page, form, here, lambda: make(page.db, read(form)), done=f"{kind}-saved")


@router.post("/t/{tenant}/service-library/{kind}/{item_id}")
def change(submitted: ManageForm, kind: str, item_id: uuid.UUID) -> Response:
    """Save an item's new text (``action=save``) or delete it (``action=delete``)."""
    page, form = submitted
    _staff_only(page)
    assert page.tenant is not None
    here = f"{HERE}?tenant={page.tenant.slug}"
    action = _text(form, "action")
    if kind not in _ACTIONS or action not in ("save", "delete"):
        return _back(form, here, error="bad-form")
    read, _, update, delete = _ACTIONS[kind]
    if action == "delete" and delete is None:
        return _back(form, here, error="bad-form")
    if action == "delete":
        return _submit(page, form, here, lambda: delete(page.db, item_id), done=f"{kind}-deleted")
    return _submit(
        page, form, here, lambda: update(page.db, item_id, read(form)), done=f"{kind}-saved"
    )
