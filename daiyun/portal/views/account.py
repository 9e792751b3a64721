"""Signing in and out, switching tenant, and the reader's preferences (language, time zone)."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.core.errors import Problem
from daiyun.portal import navigation, sessions
from daiyun.portal.i18n import TIME_ZONES, known_zone, supported
from daiyun.portal.web import (
    LOCALE_COOKIE,
    LOGIN_CSRF_COOKIE,
    PREFIX,
    ZONE_COOKIE,
    Page,
    PortalRoute,
    SignedIn,
    checked_form,
    home_of,
    redirect,
    render,
    safe_next,
    signed_in_form,
)
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth import preferences as user_preferences
from daiyun.tenants.auth import service as auth_service
from daiyun.tenants.auth.addresses import client_address
from daiyun.tenants.auth.deps import SessionDep

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
PageForm = Annotated[tuple[Page, FormData], Depends(signed_in_form)]


def _set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )


def _login_page(
    request: Request, next_url: str, *, error: str | None = None, status_code: int = 200
) -> Response:
    # Before sign-in there is no session: the form's token is also set as a cookie and the two
    # must match (a page on another site can neither read nor set it).
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"next": next_url, "error": error},
        csrf=token,
        status_code=status_code,
    )
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token)
    return response


@router.get("")
@router.get("/")
def portal_home(request: Request, db: SessionDep) -> Response:
    found = sessions.resolve(db, request.cookies.get(sessions.COOKIE))
    if found is None:
        return redirect(f"{PREFIX}/login")
    return redirect(home_of(db, found[1]))


@router.get("/login")
def login_form(request: Request, next: str = "") -> Response:
    return _login_page(request, safe_next(next, ""))


@router.post("/login")
async def login(request: Request, db: SessionDep) -> Response:
    form = await checked_form(request, request.cookies.get(LOGIN_CSRF_COOKIE))
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    try:
        user = auth_service.authenticate(db, email, password, client_address(request))
    except Problem as refused:
        if refused.status not in (401, 429):
            raise
        page = _login_page(
            request,
            safe_next(form.get("next"), ""),
            error="too-many" if refused.status == 429 else "invalid",
            status_code=refused.status,
        )
        if refused.status == 429:  # every 429 says when to come back
            page.headers.update({"Retry-After": (refused.headers or {})["Retry-After"]})
        return page
    # The language chosen on the sign-in page (its cookie) is the user's latest choice: keep it.
    chosen = supported(request.cookies.get(LOCALE_COOKIE))
    if chosen is not None and chosen != user.locale:
        tenant_service.set_locale(db, user.id, chosen)
    # A zone this browser kept before accounts kept one is adopted by an account that has none
    # (never over the account's own choice); the cookie is then dropped, read by no page.
    kept = known_zone(request.cookies.get(ZONE_COOKIE))
    if kept is not None and user.time_zone is None:
        user_preferences.set_time_zone(db, user.id, kept)
    raw = sessions.start(db, user)
    response = redirect(safe_next(form.get("next"), home_of(db, user)))
    _set_cookie(request, response, sessions.COOKIE, raw)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    response.delete_cookie(ZONE_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, submitted: PageForm) -> Response:
    page, _ = submitted
    sessions.end(page.current)
    response = redirect(f"{PREFIX}/login")
    response.delete_cookie(sessions.COOKIE, path=PREFIX)
    return response


@router.post("/switch")
def switch_tenant(request: Request, submitted: PageForm) -> Response:
    """Open another of the user's tenants: the session gets a new id (and CSRF token), and the
    user lands on the first page their role there opens; a role that opens none
    comes back to the list, which says so, instead of landing on a refusal."""
    page, form = submitted
    tenant = tenant_service.find_tenant(page.db, str(form.get("tenant", "")))
    role = tenant_service.role_of(page.db, page.user.id, tenant.id) if tenant else None
    if tenant is None or role is None:
        raise Problem(404, "not-found", "No such page")
    raw = sessions.rotate(page.db, page.current, page.user, tenant.id)
    home = navigation.tenant_home(tenant.slug, role)
    response = redirect(home or f"{PREFIX}/tenants?{urlencode({'nothing': tenant.slug})}")
    _set_cookie(request, response, sessions.COOKIE, raw)
    return response


@router.post("/locale")
async def choose_locale(request: Request, db: SessionDep) -> Response:
    """Set the language: on the user when signed in, else in a cookie."""
    found = sessions.resolve(db, request.cookies.get(sessions.COOKIE))
    expected = found[0].csrf_token if found else request.cookies.get(LOGIN_CSRF_COOKIE)
    form = await checked_form(request, expected)
    locale = supported(str(form.get("locale", "")))
    if locale is None:
        raise Problem(400, "unknown-locale", "That language is not available")
    if found is not None:
        tenant_service.set_locale(db, found[1].id, locale)
    response = redirect(safe_next(form.get("next"), f"{PREFIX}/"))
    _set_cookie(request, response, LOCALE_COOKIE, locale, 365 * 86400)
    return response


@router.get("/tenants")
def choose_tenant(page: SignedIn, request: Request, nothing: str = "") -> Response:
    """The tenants the user may open, to switch to one; ``nothing`` names the one just opened
    where the user's role has no page."""
    page.tenants = tenant_service.tenants_open_to(page.db, page.user.id)
    empty = next((t for t in page.tenants if t.slug == nothing), None)
    return render(request, "tenants.html", {"empty": empty}, page=page)


def _preferences_page(
    request: Request, page: Page, *, saved: bool = False, refused: bool = False
) -> Response:
    return render(
        request,
        "preferences.html",
        {
            "zones": TIME_ZONES,
            "chosen_zone": known_zone(page.user.time_zone) or "",
            "saved": saved,
            "refused": refused,
        },
        page=page,
        status_code=400 if refused else 200,
    )


@router.get("/preferences")
def preferences(page: SignedIn, request: Request, saved: str = "") -> Response:
    """The reader's language and time zone, as their account keeps them."""
    return _preferences_page(request, page, saved=saved == "1")


@router.post("/preferences")
def save_preferences(request: Request, submitted: PageForm) -> Response:
    """Keep the language and the time zone on the user's account (an empty zone: each
    merchant's own). A language or zone not offered is refused on the page, and nothing of the
    form is saved."""
    page, form = submitted
    locale = supported(str(form.get("locale", "")))
    zone_text = str(form.get("time_zone", ""))
    zone = known_zone(zone_text)
    if locale is None or (zone_text and zone is None):
        return _preferences_page(request, page, refused=True)
    tenant_service.set_locale(page.db, page.user.id, locale)
    user_preferences.set_time_zone(page.db, page.user.id, zone)
    response = redirect(f"{PREFIX}/preferences?saved=1")
    _set_cookie(request, response, LOCALE_COOKIE, locale, 365 * 86400)
    response.delete_cookie(ZONE_COOKIE, path=PREFIX)  # the account is where the zone is now
    return response
