"""The marketing API (市场/推广): campaigns, promotions, coupons, cart pricing, redemptions,
the tenant's marketing settings, ad spend and the ROAS report."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from fastapi.responses import JSONResponse

from daiyun.core.idempotency import IdempotencyKey, idempotent
from daiyun.core.ids import Day
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.marketing import ad_formats, ad_spend, pricing, roas, service
from daiyun.platform.marketing.models import AdChannel
from daiyun.platform.marketing.schemas import (
    AdSpendBatchIn,
    AdSpendRead,
    AdSpendRecorded,
    Buyer,
    CampaignCreate,
    CampaignRead,
    CampaignUpdate,
    CartIn,
    Code,
    CouponBatchRead,
    CouponBulkCreate,
    CouponCreate,
    CouponLookup,
    CouponRead,
    MarketingSettingsIn,
    MarketingSettingsRead,
    PromotionCreate,
    PromotionRead,
    PromotionUpdate,
    QuoteRead,
    RedemptionIn,
    RedemptionRead,
    RedemptionResult,
    RoasBasis,
    RoasBy,
    RoasReport,
)
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["marketing"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.marketing_read))]
Manager = Annotated[TenantAccess, Depends(tenant_access(P.marketing_manage))]
TENANT = "/tenants/{tenant}"
# An ad spend file may be larger than the API's usual body limit (a multipart envelope around
# a file of up to ``ad_formats.MAX_FILE_BYTES``); the application reads this at start.
LARGE_BODIES = {r"/tenants/[^/]+/ad-spend/import": ad_formats.MAX_FILE_BYTES + (64 << 10)}
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "A CSV file"}
}


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/marketing-settings", response_model=MarketingSettingsRead)
def get_settings(session: SessionDep, access: Reader) -> MarketingSettingsRead:
    """What a promotion under the margin floor meets: refused at creation, or capped."""
    return service.settings(session)


@router.put(f"{TENANT}/marketing-settings", response_model=MarketingSettingsRead)
def put_settings(
    session: SessionDep, access: Manager, body: MarketingSettingsIn
) -> MarketingSettingsRead:
    return service.set_settings(session, body)


# --------------------------------------------------------------------------------------------
# Campaigns
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/campaigns", response_model=Page[CampaignRead])
def list_campaigns(
    session: SessionDep, access: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[CampaignRead]:
    """Campaigns with their budget, discount cost and attributed GMV, oldest first."""
    rows, next_cursor = service.find_campaigns(session, cursor, limit)
    return Page(items=[service.campaign_read(c) for c in rows], next_cursor=next_cursor)


@router.post(
    f"{TENANT}/campaigns", response_model=CampaignRead, status_code=201, responses=problems(409)
)
def create_campaign(
    session: SessionDep,
    access: Manager,
    body: CampaignCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A campaign: dates, a budget its discounts may cost, a goal (its name is unique: 409)."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: service.campaign_read(service.create_campaign(session, body)),
    )


@router.get(f"{TENANT}/campaigns/{{campaign_id}}", response_model=CampaignRead)
def get_campaign(session: SessionDep, access: Reader, campaign_id: uuid.UUID) -> CampaignRead:
    return service.campaign_read(service.get_campaign(session, campaign_id))


@router.patch(
    f"{TENANT}/campaigns/{{campaign_id}}", response_model=CampaignRead, responses=problems(409)
)
def update_campaign(
    session: SessionDep, access: Manager, campaign_id: uuid.UUID, body: CampaignUpdate
) -> CampaignRead:
    return service.campaign_read(service.update_campaign(session, campaign_id, body))


# --------------------------------------------------------------------------------------------
# Promotions
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/promotions", response_model=Page[PromotionRead])
def list_promotions(
    session: SessionDep,
    access: Reader,
    campaign_id: uuid.UUID | None = None,
    active: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[PromotionRead]:
    rows, next_cursor = service.find_promotions(session, campaign_id, active, cursor, limit)
    return Page(items=[service.promotion_read(p) for p in rows], next_cursor=next_cursor)


@router.post(f"{TENANT}/promotions", response_model=PromotionRead, status_code=201)
def create_promotion(
    session: SessionDep,
    access: Manager,
    body: PromotionCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A promotion in a campaign. Refused (422) when a flash price is under the SKU's margin
    floor and the tenant refuses such promotions, or when a flash sale's stock is not sellable
    in one warehouse (it is carved out of it for the window)."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: service.promotion_read(service.create_promotion(session, body)),
    )


@router.get(f"{TENANT}/promotions/{{promotion_id}}", response_model=PromotionRead)
def get_promotion(session: SessionDep, access: Reader, promotion_id: uuid.UUID) -> PromotionRead:
    return service.promotion_read(service.get_promotion(session, promotion_id))


@router.patch(f"{TENANT}/promotions/{{promotion_id}}", response_model=PromotionRead)
def update_promotion(
    session: SessionDep, access: Manager, promotion_id: uuid.UUID, body: PromotionUpdate
) -> PromotionRead:
    """Rename, reprioritise, change stacking, or stop (a flash sale's stock goes back)."""
    return service.promotion_read(service.update_promotion(session, promotion_id, body))


# --------------------------------------------------------------------------------------------
# Coupons
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/coupons", response_model=Page[CouponRead])
def list_coupons(
    session: SessionDep,
    access: Reader,
    promotion_id: uuid.UUID | None = None,
    batch: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[CouponRead]:
    rows, next_cursor = service.find_coupons(session, promotion_id, batch, cursor, limit)
    return Page(items=[CouponRead.model_validate(c) for c in rows], next_cursor=next_cursor)


@router.post(
    f"{TENANT}/coupons", response_model=CouponRead, status_code=201, responses=problems(409)
)
def create_coupon(
    session: SessionDep,
    access: Manager,
    body: CouponCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """One code for a coupon promotion (unique without regard to case: 409)."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: CouponRead.model_validate(service.create_coupon(session, body)),
    )


@router.post(f"{TENANT}/coupons/bulk", response_model=CouponBatchRead, status_code=201)
def generate_coupons(
    session: SessionDep,
    access: Manager,
    body: CouponBulkCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Generate ``count`` random codes as one batch (a retry with the key gets the same codes)."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: service.generate_coupons(session, body),
    )


@router.get(f"{TENANT}/coupons/lookup", response_model=CouponLookup)
def lookup_coupon(
    session: SessionDep,
    access: Reader,
    code: Annotated[Code, Query()],
    buyer: Annotated[Buyer | None, Query()] = None,
) -> CouponLookup:
    """A code as a buyer would use it now: usable, or why not (404 for no such code)."""
    return service.lookup_coupon(session, code, buyer)


# --------------------------------------------------------------------------------------------
# Pricing and redemptions
# --------------------------------------------------------------------------------------------


@router.post(f"{TENANT}/pricing/quote", response_model=QuoteRead)
def quote(session: SessionDep, access: Reader, body: CartIn) -> QuoteRead:
    """Price a cart under the live promotions: each discount allocated to lines and explained,
    the codes accepted or refused with the reason. Records nothing."""
    return pricing.quote(session, body)


@router.get(f"{TENANT}/redemptions", response_model=Page[RedemptionRead])
def list_redemptions(
    session: SessionDep,
    access: Reader,
    promotion_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RedemptionRead]:
    rows, next_cursor = pricing.find_redemptions(session, promotion_id, order_id, cursor, limit)
    return Page(items=pricing.redemption_reads(session, rows), next_cursor=next_cursor)


@router.post(
    f"{TENANT}/redemptions",
    response_model=RedemptionResult,
    status_code=201,
    responses={
        200: {"model": RedemptionResult, "description": "Recorded before under this key"},
        **problems(409),
    },
)
def redeem(session: SessionDep, access: Manager, body: RedemptionIn) -> JSONResponse:
    """Price an order's cart and record the promotions it uses, under the lock: limits (budget,
    code uses, per-buyer, flash stock) are never passed. A code that cannot be honoured refuses
    the whole order (409). The same key again changes nothing (200, what was recorded)."""
    result, created = pricing.redeem(session, body)
    return JSONResponse(result.model_dump(mode="json"), status_code=201 if created else 200)


# --------------------------------------------------------------------------------------------
# Ad spend and the ROAS report
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/ad-spend", response_model=Page[AdSpendRead])
def list_ad_spend(
    session: SessionDep,
    access: Reader,
    channel: AdChannel | None = None,
    first: Annotated[Day | None, Query(description="From this day (the ad platform's)")] = None,
    last: Annotated[Day | None, Query(description="To this day, included")] = None,
    campaign_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[AdSpendRead]:
    """Daily ad spend rows: as billed and in the tenant's currency, with the rate used."""
    rows, next_cursor = ad_spend.find(session, channel, first, last, campaign_id, cursor, limit)
    return Page(items=[ad_spend.read(r) for r in rows], next_cursor=next_cursor)


@router.post(
    f"{TENANT}/ad-spend",
    response_model=AdSpendRecorded,
    responses=problems(404, 422),
)
def record_ad_spend(session: SessionDep, access: Manager, body: AdSpendBatchIn) -> AdSpendRecorded:
    """Record daily spend rows: each replaces the row of its day, channel, ad campaign and ad
    group. Spend in another currency is converted at its day's recorded rate; a day without
    one refuses every row (422 ``missing-rate`` names the currency and the days)."""
    return ad_spend.record(session, body)


@router.post(
    f"{TENANT}/ad-spend/import",
    response_model=AdSpendRecorded,
    responses=problems(413, 415, 422),
)
def import_ad_spend(
    session: SessionDep,
    access: Manager,
    file: Annotated[UploadFile, File(description="The channel's daily report (CSV)")],
    channel: Annotated[AdChannel, Form(description="Whose report format the file is")],
    currency: Annotated[
        str,
        Form(
            pattern=r"^([A-Z]{3})?$",
            description="The amounts' currency when the file names none (ISO 4217)",
        ),
    ] = "",
) -> AdSpendRecorded:
    """Import a channel's daily report, read by its header (the README lists each channel's
    columns). It replaces the channel's rows of every day from the file's first day to its
    last, so importing it again changes nothing. Every row is checked first: with any problem
    (or a day without its exchange rate) nothing is written and the 422 lists them
    (``problems``: row, column, problem)."""
    content = file.file.read(ad_formats.MAX_FILE_BYTES + 1)
    return ad_spend.import_file(session, channel, content, currency or None)


First = Annotated[Day, Query(description="The period's first day (the tenant's)")]
Last = Annotated[Day, Query(description="Its last day, included")]


@router.get(f"{TENANT}/marketing-reports/roas", response_model=RoasReport, responses=problems(422))
def roas_report(
    session: SessionDep,
    access: Reader,
    first: First,
    last: Last,
    by: RoasBy = RoasBy.day,
    basis: RoasBasis = RoasBasis.orders,
) -> RoasReport:
    """ROAS (投产比) = attributed GMV / spend, ROI and CAC (spend per attributed order) per day,
    campaign or channel, each a sum over sum. ``basis=orders``: GMV of the orders that used a
    campaign's promotions; ``basis=platform``: what the ad platforms reported (the only basis
    per channel). In the tenant's currency; a day without a needed rate is a 422."""
    return roas.report(session, first, last, by, basis)


@router.get(
    f"{TENANT}/marketing-reports/roas.csv",
    response_class=Response,
    responses={**CSV, **problems(422)},
)
def roas_export(
    session: SessionDep,
    access: Reader,
    first: First,
    last: Last,
    by: RoasBy = RoasBy.day,
    basis: RoasBasis = RoasBasis.orders,
) -> Response:
    """The ROAS report as CSV (amounts in major units), its total last."""
    report = roas.report(session, first, last, by, basis)
    name = f"roas-{by.value}-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        roas.to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
