"""What every portal page shares: templates, the signed-in context, tenant access and CSRF.

Pages are server-rendered and work without JavaScript. A page on a tenant names it in the path
(``/portal/t/{tenant}/...``) and is checked against the user's memberships on every request, as
the API is: outside them the answer is 404 and the attempt is audited. Every form POST carries
the session's CSRF token, and a POST from another origin is refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import structlog
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.tenancy import bind_tenant, bind_user
from daiyun.portal import navigation, sessions
from daiyun.portal.i18n import (
    LOCALE_NAMES,
    LOCALES,
    N_,
    Formatter,
    known_zone,
    negotiate,
    supported,
)
from daiyun.portal.identity import TenantView, Viewer
from daiyun.portal.models import PortalSession
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.deps import SessionDep, check_status, refuse_tenant
from daiyun.tenants.auth.permissions import Permission, Role, allows

PREFIX = "/portal"
LOCALE_COOKIE = "daiyun_locale"
# Where a browser kept the reader's time zone before the account kept it (users.time_zone): read
# once at sign-in (adopted by an account that has none), then deleted; no page reads it.
ZONE_COOKIE = "daiyun_time_zone"
LOGIN_CSRF_COOKIE = "daiyun_login_csrf"
STATIC_DIR = Path(__file__).parent / "static"
# Where FastAPI keeps the exit stack of a request's function-scoped dependencies.
FUNCTION_STACK = "fastapi_function_astack"

log = structlog.get_logger()
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

# No inline script or style, no third-party origin: pages work the same without JavaScript.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class Page:
    """A signed-in request: the user, their session, how to write for them, and the tenant."""

    db: Session
    user: Viewer
    current: PortalSession
    fmt: Formatter
    tenant: TenantView | None = None
    role: Role | None = None
    tenants: Sequence[TenantView] = field(default_factory=list)

    def can(self, permission: Permission) -> bool:
        return self.role is not None and allows(self.role, permission)

    @property
    def is_staff(self) -> bool:
        return self.user.merchant_tenant_id is None


def reader_locale(request: Request, user: Viewer | None = None) -> str:
    """The user's own setting, else the language cookie, else ``Accept-Language``."""
    if user is not None and (chosen := supported(user.locale)):
        return chosen
    return supported(request.cookies.get(LOCALE_COOKIE)) or negotiate(
        request.headers.get("accept-language")
    )


def reader_zone(user: Viewer | None) -> str | None:
    """The time zone the signed-in reader chose for themselves (kept on the account), if any; a
    zone no longer offered reads as none, so a page never fails on it."""
    return known_zone(user.time_zone) if user is not None else None


def signed_in(request: Request, db: SessionDep) -> Page:
    """The signed-in user's page context; unsigned requests are sent to the sign-in page."""
    found = sessions.resolve(db, request.cookies.get(sessions.COOKIE))
    if found is None:
        raise Problem(401, "unauthorized", "Sign in first")
    current, user = found
    # An error page later in this request needs the token for its forms (the language switch).
    request.state.portal_csrf = current.csrf_token
    bind_user(db, user.id)
    structlog.contextvars.bind_contextvars(user_id=str(user.id))
    fmt = Formatter(reader_locale(request, user), user_zone=reader_zone(user))
    return Page(db=db, user=user, current=current, fmt=fmt)


SignedIn = Annotated[Page, Depends(signed_in)]


def tenant_page(permission: Permission) -> Callable[..., Page]:
    """Dependency: the path's tenant, if the user is a member there with ``permission``.

    The membership is read on every request, so removing it denies the very next page. An
    offboarded tenant is gone for its members (404) and a suspended one takes no form POST.
    """

    def dependency(request: Request, page: SignedIn, tenant: str) -> Page:
        found = tenant_service.find_tenant(page.db, tenant)
        role = tenant_service.role_of(page.db, page.user.id, found.id) if found else None
        if found is None or role is None:
            refuse_tenant(page.db, page.user.id, tenant, found)
            raise Problem(404, "not-found", "No such page")
        bind_tenant(page.db, found.id)
        structlog.contextvars.bind_contextvars(tenant_id=str(found.id))
        if not allows(role, permission):
            raise Problem(403, "forbidden", "Your role may not see this page")
        check_status(found, role, request.method)
        page.tenant, page.role = found, role
        page.fmt = Formatter(page.fmt.locale, found.time_zone, page.fmt.user_zone)
        return page

    return dependency


def _same_origin(request: Request) -> bool:
    """A browser names the page a POST came from; it must be one of ours."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    return urlsplit(source).netloc == request.url.netloc


async def checked_form(request: Request, expected: str | None) -> FormData:
    """The POSTed form, if it carries ``expected`` as its CSRF token and came from our origin."""
    form = await request.form()
    token = form.get("csrf_token")
    if (
        expected is None
        or not _same_origin(request)
        or not sessions.csrf_matches(expected, token if isinstance(token, str) else None)
    ):
        raise Problem(403, "csrf-failed", "The form has expired or did not come from this site")
    return form


def tenant_form(permission: Permission) -> Callable[..., Any]:
    """Dependency for a form POST on a tenant: :func:`tenant_page` plus the CSRF check."""
    page_dependency = tenant_page(permission)

    async def dependency(
        request: Request, page: Page = Depends(page_dependency)
    ) -> tuple[Page, FormData]:
        return page, await checked_form(request, page.current.csrf_token)

    return dependency


async def signed_in_form(request: Request, page: SignedIn) -> tuple[Page, FormData]:
    """Dependency for a form POST outside a tenant (switching tenant, signing out, language)."""
    return page, await checked_form(request, page.current.csrf_token)


def render(
    request: Request,
    template: str,
    values: Mapping[str, Any] | None = None,
    *,
    page: Page | None = None,
    fmt: Formatter | None = None,
    status_code: int = 200,
    csrf: str | None = None,
) -> HTMLResponse:
    """Render a template with what every page uses: ``_``, ``fmt``, the user and the nav."""
    fmt = fmt or (page.fmt if page else Formatter(reader_locale(request)))
    nav = None
    if page is not None:
        nav = navigation.build(page.db, page.user, request.url.path, page.tenant, page.role)
    context = {
        "nav": nav,
        "request": request,
        "page": page,
        "fmt": fmt,
        "_": fmt.gettext,
        "locales": [(code, LOCALE_NAMES[code]) for code in LOCALES],
        "csrf": csrf or (page.current.csrf_token if page else None),
        "path": request.url.path,
        **(values or {}),
    }
    html = templates.get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def safe_next(value: object, default: str) -> str:
    """A post-sign-in destination, only ever a path inside the portal."""
    if isinstance(value, str) and value.startswith(PREFIX + "/") and "//" not in value:
        return value
    return default


def home_of(db: Session, user: Viewer) -> str:
    """Where a user lands: the console for staff, their tenant's first page for a merchant's."""
    if user.merchant_tenant_id is None:
        return f"{PREFIX}/console"
    tenant = tenant_service.get_tenant(db, user.merchant_tenant_id)
    # A merchant's user holds their own role in their own tenant: no membership read, which
    # row-level security would answer only once the user is bound (not yet, at sign-in).
    home = navigation.tenant_home(tenant.slug, user.role) if tenant else None
    return home or f"{PREFIX}/login"


# What an error page says, by status (and by kind where one status covers different stories):
# a title and a sentence that tell the reader what happened and what to do, never a code.
ERROR_TEXTS: dict[int | str, tuple[str, str]] = {
    400: (
        N_("That request could not be used"),
        N_("Something in the address or the form was not valid. Go back, check it and try again."),
    ),
    403: (
        N_("Not allowed"),
        N_("Your role does not include this page. The menu above shows what you can open."),
    ),
    "csrf-failed": (
        N_("The form has expired"),
        N_("The form was open too long or did not come from this site. Open the page again."),
    ),
    404: (
        N_("Page not found"),
        N_("There is no such page, or it is not open to you."),
    ),
    405: (
        N_("Not available this way"),
        N_("This address cannot be used like that. Use the links and buttons on the pages."),
    ),
    409: (
        N_("Changed in the meantime"),
        N_("This was changed by someone else or is no longer open to changes. Reload to see it."),
    ),
    "tenant-suspended": (
        N_("This merchant is suspended"),
        N_("The merchant's data can be read but not changed until the agency reactivates it."),
    ),
    413: (
        N_("Too much at once"),
        N_("What was sent is larger than the site accepts. Send less at a time."),
    ),
    422: (
        N_("The form is not complete"),
        N_("Some of what the form needs is missing or not valid. Go back and check it."),
    ),
    429: (
        N_("Too many attempts"),
        N_("Wait a moment before trying again."),
    ),
    503: (
        N_("The database is busy"),
        N_(
            "Nothing was saved: the database did not answer in time, even when asked again. "
            "Try again in a moment."
        ),
    ),
}
FALLBACK_TEXT = (
    N_("Something went wrong"),
    N_("The page could not be shown. Try again; if it keeps happening, tell the agency."),
)


def error_text(status: int, kind: str) -> tuple[str, str]:
    """The title and sentence (messages to translate) an error page shows."""
    return ERROR_TEXTS.get(kind) or ERROR_TEXTS.get(status) or FALLBACK_TEXT


def error_page(
    request: Request,
    status: int,
    kind: str,
    detail: str,
    headers: Mapping[str, str] | None,
) -> Response | None:
    """Errors on portal paths as pages in the portal's layout, with the reader's navigation and
    sign-out; an unsigned visitor is sent to sign in first."""
    if not request.url.path.startswith(PREFIX):
        return None
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(f"{PREFIX}/login?next={quote(target)}")
    known = _error_page_reader(request)
    locale = supported(known.locale) or reader_locale(request)
    fmt = Formatter(locale, user_zone=known_zone(known.time_zone))
    title, sentence = error_text(status, kind)
    response = render(
        request,
        "error.html",
        {
            "status": status,
            "title": fmt.gettext(title),
            "sentence": fmt.gettext(sentence),
            "nav": known.nav,
            "home": known.home,
        },
        fmt=fmt,
        status_code=status,
        csrf=known.csrf,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if known.fresh:
        set_portal_cookie(request, response, LOGIN_CSRF_COOKIE, known.csrf)
    return response


def set_portal_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None = None
) -> None:
    """A portal cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, scoped to the portal."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )


@dataclass
class _Reader:
    """Who an error page is for: the forms' token, and for a signed-in user their header."""

    csrf: str
    fresh: bool = False
    # The user's own language and time zone, read while their row was at hand.
    locale: str | None = None
    time_zone: str | None = None
    nav: navigation.Nav | None = None
    home: str = f"{PREFIX}/"


def _error_page_reader(request: Request) -> _Reader:
    """The token the error page's forms carry, as the language switch will check it (the
    signed-in session's, else the sign-in cookie's, else a new one to set as that cookie), and
    the signed-in user's header: the links of their role in the path's tenant, if any.

    The page may answer before the request read its session (a path that matches no page) or
    after its unit of work was rolled back: the session is then read in a short one of its own.
    """
    raw = request.cookies.get(sessions.COOKIE)
    if raw:
        try:
            with unit_of_work() as db:
                found = sessions.resolve(db, raw)
                if found is not None:
                    current, user = found
                    bind_user(db, user.id)
                    place = navigation.tenant_in_path(db, user.id, request.url.path)
                    tenant, role = place if place is not None else (None, None)
                    nav = navigation.build(db, user, request.url.path, tenant, role)
                    reader = _Reader(
                        current.csrf_token, locale=user.locale, time_zone=user.time_zone, nav=nav
                    )
                    reader.home = home_of(db, user)
                    db.rollback()  # reads only
                    return reader
        except SQLAlchemyError:
            # The database is what failed (a 503 page): the page still renders, its forms won't.
            log.warning("error page without the reader's session")
    known = getattr(request.state, "portal_csrf", None)
    if isinstance(known, str):
        return _Reader(known)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if cookie:
        return _Reader(cookie)
    return _Reader(secrets.token_urlsafe(32), fresh=True)


class PortalRoute(APIRoute):
    """A portal page that runs once more when the database reports a transient failure (a lock
    not released in time, a dropped connection, a serialization failure), then lets the error
    page say so in words.

    Each attempt gets its own stack for the function-scoped dependencies, the request's unit of
    work among them: a failed attempt is rolled back and its connection returned before the
    next begins (an abandoned transaction could still hold the row locks the retry waits for),
    and a success commits as it always does, before the answer is sent. The form's body is read
    once and cached by the request, so the second attempt sees the same form.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def once_more(request: Request) -> Response:
            outer = request.scope.get(FUNCTION_STACK)
            if not isinstance(outer, AsyncExitStack):  # not the FastAPI this was written for
                return await handler(request)
            try:
                for attempt in (1, 2):
                    try:
                        async with AsyncExitStack() as stack:
                            request.scope[FUNCTION_STACK] = stack
                            return await handler(request)
                    except OperationalError as failure:
                        if attempt == 2:
                            raise
                        log.warning(
                            "database failed a portal page; trying once more",
                            error=type(failure.orig).__name__,
                        )
                raise AssertionError("unreachable")
            finally:
                request.scope[FUNCTION_STACK] = outer

        return once_more
