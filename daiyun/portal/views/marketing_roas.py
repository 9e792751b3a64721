"""Ad spend and ROAS pages (投产比).

Console (staff with ``marketing:manage``): the ad spend import. A channel's report file is
uploaded for one merchant; it goes in whole (and replaces the days it covers) or not at all,
and then the page shows the validation report: row, column, problem. The upload goes through
the portal's usual body limit (1 MiB, some 10,000 rows); larger files go through the API.

Merchant (``marketing:read``): the ROAS page, a tab of Campaigns: daily spend and attributed
GMV as bar charts (the portal's chart helper), the period's ROAS, ROI and CAC, per campaign
and per channel, and the report as CSV.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from daiyun.core.errors import Problem
from daiyun.platform.marketing import ad_billing, ad_formats, ad_spend, roas
from daiyun.platform.marketing.schemas import AdChannel, RoasBasis, RoasBy, RoasReport
from daiyun.portal.charts import daily_bars
from daiyun.portal.console import access
from daiyun.portal.navigation import MARKETING_PAGES, tabs
from daiyun.portal.views.console import Staff, _back, _staff_only, _text
from daiyun.portal.views.merchant.common import N_, tenant_base, tenant_zone, url, values
from daiyun.portal.web import PREFIX, Page, PortalRoute, render, tenant_form, tenant_page
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission
_read = MARKETING_PAGES["roas"].permission
assert _read is not None
RoasPage = Annotated[Page, Depends(tenant_page(_read))]
ImportForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.marketing_manage))]
CONSOLE = f"{PREFIX}/console/ad-spend"
# Problems shown on the page (the API's answer lists up to ad_formats.MAX_PROBLEMS).
SHOWN_PROBLEMS = 50
DEFAULT_DAYS = 30
ERRORS = {
    "no-file": N_("Choose the report file to import."),
    "bad-form": N_("Choose a merchant and the report's channel."),
    "too-large": N_("The file is too large for the portal (1 MiB): import it through the API."),
    "not-csv": N_("The file is not CSV text (a spreadsheet? save it as CSV)."),
    "missing-rate": N_("An exchange rate the file needs is not recorded."),
}


def _channels() -> list[tuple[str, str]]:
    return [(c.value, ad_formats.CHANNEL_NAMES[c]) for c in AdChannel]


@router.get("/console/ad-spend")
def ad_spend_console(request: Request, page: Staff) -> Response:
    """The import form: the merchants the user may record spend for, the channels."""
    return _console(request, page)


def _console(
    request: Request,
    page: Page,
    *,
    report: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    accesses = access.accessible(page.db, page.user)
    managed = access.with_permission(accesses, P.marketing_manage)
    params = request.query_params
    done = None
    if params.get("written"):
        done = {
            "tenant": params.get("tenant", "")[:64],
            "written": params.get("written", "")[:9],
            "replaced": params.get("replaced", "")[:9],
            "first": params.get("first", "")[:10],
            "last": params.get("last", "")[:10],
        }
    error = params.get("error", "")
    merchants = sorted((a.tenant for a in managed), key=lambda t: t.display_name.lower())
    chosen = next((t for t in merchants if t.slug == params.get("tenant")), None)
    if chosen is None and merchants:
        chosen = merchants[0]
    moved: list[ad_billing.Difference] = []
    if chosen is not None:
        with access.tenant_unit(chosen.id, page.user.id) as session:
            today = datetime.now(UTC).date()
            moved = access.quietly(partial(ad_billing.differences, session, today)) or []
            session.rollback()
    return render(
        request,
        "console/ad_spend.html",
        {
            "may_import": bool(managed),
            "merchants": merchants,
            "chosen": chosen,
            "channels": _channels(),
            "done": done,
            "error": ERRORS.get(error, N_("The import was refused.")) if error else None,
            "report": report,
            "console": CONSOLE,
            "moved": moved,
            "settle_days": ad_billing.SETTLE_DAYS,
            "channel_names": {c.value: name for c, name in ad_formats.CHANNEL_NAMES.items()},
        },
        page=page,
        status_code=status_code,
    )


@router.post("/t/{tenant}/ad-spend")
async def import_ad_spend(request: Request, submitted: ImportForm) -> Response:
    """Import a channel's report for the merchant: back to the console with what it wrote, or
    the console with the file's validation report (422) when nothing was written."""
    page, form = submitted
    _staff_only(page)
    assert page.tenant is not None
    upload = form.get("file")
    try:
        channel = AdChannel(_text(form, "channel", 16))
    except ValueError:
        return _back(form, CONSOLE, error="bad-form")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _back(form, CONSOLE, error="no-file")
    content = await upload.read(ad_formats.MAX_FILE_BYTES + 1)
    currency = _text(form, "currency", 3).upper() or None
    try:
        with page.db.begin_nested():
            recorded = ad_spend.import_file(page.db, channel, content, currency)
    except Problem as refused:
        if refused.status >= 500:
            raise
        problems = refused.extra.get("problems")
        if problems is None:
            return _back(form, CONSOLE, error=refused.kind)
        report = {
            "tenant": page.tenant.display_name,
            "filename": (upload.filename or "")[-120:],
            "channel": ad_formats.CHANNEL_NAMES[channel],
            "count": refused.extra.get("problem_count", len(problems)),
            "problems": problems[:SHOWN_PROBLEMS],
        }
        return _console(request, page, report=report, status_code=422)
    return _back(
        form,
        CONSOLE,
        tenant=page.tenant.slug,
        written=recorded.written,
        replaced=recorded.replaced,
        first=recorded.first_day.isoformat(),
        last=recorded.last_day.isoformat(),
    )


def _period(request: Request, page: Page) -> tuple[date, date, str | None]:
    today = datetime.now(UTC).astimezone(tenant_zone(page)).date()
    default = (today - timedelta(days=DEFAULT_DAYS - 1), today)
    params = request.query_params
    try:
        first = date.fromisoformat(params.get("from") or default[0].isoformat())
        last = date.fromisoformat(params.get("to") or default[1].isoformat())
    except ValueError:
        return *default, N_("The period is not valid: use days (YYYY-MM-DD).")
    if last < first or (last - first).days >= roas.MAX_DAYS:
        return *default, N_("The period is not valid: at most a year, its end after its start.")
    return first, last, None


def _reports(
    page: Page, first: date, last: date
) -> tuple[RoasReport, RoasReport, RoasReport] | Problem:
    try:
        by_day = roas.report(page.db, first, last, RoasBy.day)
        by_campaign = roas.report(page.db, first, last, RoasBy.campaign)
        by_channel = roas.report(page.db, first, last, RoasBy.channel, RoasBasis.platform)
    except Problem as refused:
        if refused.status >= 500:
            raise
        return refused
    return by_day, by_campaign, by_channel


@router.get("/t/{tenant}/roas")
def roas_page(request: Request, page: RoasPage) -> Response:
    """Daily spend and attributed GMV, and ROAS, ROI and CAC per campaign and channel."""
    assert page.tenant is not None
    first, last, error = _period(request, page)
    found = _reports(page, first, last)
    fmt = page.fmt
    charts: dict[str, Any] = {}
    reports: tuple[RoasReport, RoasReport, RoasReport] | None = None
    refusal = None
    if isinstance(found, Problem):
        refusal = found.detail
    else:
        reports = found
        by_day = found[0]
        charts = {
            "spend": daily_bars(
                [(date.fromisoformat(r.key), r.spend_minor) for r in by_day.rows],
                by_day.currency,
                fmt,
                fmt.gettext("Daily ad spend (%(currency)s)", currency=by_day.currency),
            ),
            "gmv": daily_bars(
                [(date.fromisoformat(r.key), r.gmv_minor) for r in by_day.rows],
                by_day.currency,
                fmt,
                fmt.gettext("Daily attributed GMV (%(currency)s)", currency=by_day.currency),
            ),
        }
    base = tenant_base(page)
    period = {"from": first.isoformat(), "to": last.isoformat()}
    return render(
        request,
        "merchant/roas.html",
        values(
            page,
            reports=reports,
            charts=charts,
            first=first,
            last=last,
            error=error,
            refusal=refusal,
            csv_url=url(f"{base}/roas.csv", {**period, "by": "campaign"}),
            day_csv_url=url(f"{base}/roas.csv", {**period, "by": "day"}),
            tabs=tabs("campaigns", page.tenant.slug, page.role, request.url.path)
            if page.role
            else [],
            tabs_label=N_("Campaigns"),
            dec=Decimal,
        ),
        page=page,
    )


@router.get("/t/{tenant}/roas.csv")
def roas_csv(request: Request, page: RoasPage) -> Response:
    """The ROAS report as CSV, per day or campaign (the order book's attribution) or channel
    (the ad platforms')."""
    first, last, _ = _period(request, page)
    by = RoasBy.campaign
    if request.query_params.get("by") in {b.value for b in RoasBy}:
        by = RoasBy(request.query_params["by"])
    basis = RoasBasis.platform if by is RoasBy.channel else RoasBasis.orders
    report = roas.report(page.db, first, last, by, basis)
    name = f"roas-{by.value}-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        roas.to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
