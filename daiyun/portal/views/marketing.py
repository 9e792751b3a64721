"""Marketing's pages (市场/推广).

Console (staff): the campaign planner (every merchant's campaigns, their promotions on a two-week
calendar), the flash-sale monitor, and the cart preview of the promotion editor: a cart priced
by the pricing engine under the merchant's live promotions, each discount explained. The preview
is a GET form (it records nothing), so every preview can be bookmarked.

Merchant: the campaign results page: budget, discount cost, attributed GMV and redemptions per
campaign, and what each promotion gave. Both ask for ``marketing:read``, as the API does.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from daiyun.core.errors import Problem
from daiyun.core.money import to_minor
from daiyun.platform.marketing import pricing
from daiyun.platform.marketing import service as marketing
from daiyun.platform.marketing.rules import Kind
from daiyun.platform.marketing.schemas import CartIn, CartLineIn, QuoteRead
from daiyun.platform.storefront import service as catalog
from daiyun.portal.console import access
from daiyun.portal.console.marketing import marketing_work
from daiyun.portal.navigation import TENANT_PAGES, tabs
from daiyun.portal.views.console import Staff
from daiyun.portal.views.merchant.common import N_, values
from daiyun.portal.web import PREFIX, Page, PortalRoute, render, tenant_page
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
_permission = TENANT_PAGES["campaigns"].permission
assert _permission is not None
CampaignsPage = Annotated[Page, Depends(tenant_page(_permission))]
PREVIEW_LINES = 3
KIND_LABELS = {
    Kind.order: N_("Order discount"),
    Kind.items: N_("Item discount"),
    Kind.shipping: N_("Shipping discount"),
    Kind.tiered: N_("满减 tiers"),
    Kind.bxgy: N_("Buy X get Y"),
    Kind.flash: N_("Flash sale"),
}


def _preview(request: Request, page: Staff, readable: dict[str, Any]) -> dict[str, Any]:
    """The cart preview's form values and, when a merchant and a line are given, its quote or
    why there is none."""
    params = request.query_params
    slug = params.get("tenant") or ""
    lines = [
        {
            "sku": (params.get(f"sku{n}") or "").strip()[:64],
            "qty": (params.get(f"qty{n}") or "").strip()[:7],
            "price": (params.get(f"price{n}") or "").strip()[:16],
        }
        for n in range(PREVIEW_LINES)
    ]
    codes = [c for c in (params.get("codes") or "").replace(",", " ").split() if c][:5]
    form = {"tenant": slug, "lines": lines, "codes": " ".join(codes)}
    chosen = readable.get(slug)
    if chosen is None or not any(line["sku"] for line in lines):
        return {"form": form, "quote": None, "error": None, "codes": {}}
    with access.tenant_unit(chosen.id, page.user.id) as session:
        try:
            cart_lines, skus = [], {}
            currency = "CNY"  # until a SKU names its own
            for line in (li for li in lines if li["sku"]):
                found, _ = catalog.find_skus(session, code=line["sku"], limit=1)
                if not found:
                    raise Problem(404, "not-found", f"No SKU {line['sku']}")
                skus[found[0].id] = found[0].code
                currency = found[0].currency
                cart_lines.append(
                    CartLineIn(
                        sku_id=found[0].id,
                        quantity=int(line["qty"] or "1"),
                        unit_price_minor=to_minor(Decimal(line["price"] or "0"), currency),
                    )
                )
            cart = CartIn(currency=currency, lines=cart_lines, coupon_codes=codes)
            quote: QuoteRead | None = pricing.quote(session, cart)
            error = None
        except Problem as exc:
            quote, error, skus = None, exc.detail, {}
        except (ValidationError, ValueError, InvalidOperation):
            quote, error, skus = None, "invalid", {}
        session.rollback()
    return {"form": form, "quote": quote, "error": error, "codes": skus, "currency": currency}


@router.get("/console/marketing")
def marketing_console(request: Request, page: Staff) -> Response:
    """Per merchant: its campaigns and promotions on the calendar, its flash sales, and the
    cart preview."""
    accesses = access.accessible(page.db, page.user)
    readers = access.with_permission(accesses, Permission.marketing_read)
    readable = {a.tenant.slug: a.tenant for a in readers}
    return render(
        request,
        "console/marketing.html",
        {
            "work": marketing_work(accesses, page.user.id),
            "may_see": bool(readers),
            "merchants": sorted(readable.values(), key=lambda t: t.display_name.lower()),
            "preview": _preview(request, page, readable),
            "kind_labels": {k.value: v for k, v in KIND_LABELS.items()},
        },
        page=page,
    )


@router.get("/t/{tenant}/campaigns")
def campaigns(request: Request, page: CampaignsPage) -> Response:
    """The merchant's campaigns: budget, discount cost, attributed GMV, redemptions; and each
    promotion with how often it was used."""
    rows, _ = marketing.find_campaigns(page.db, None, 200)
    promotions, _ = marketing.find_promotions(page.db, None, None, None, 200)
    by_campaign: dict[Any, list[Any]] = {}
    for promotion in promotions:
        by_campaign.setdefault(promotion.campaign_id, []).append(
            marketing.promotion_read(promotion)
        )
    return render(
        request,
        "merchant/campaigns.html",
        values(
            page,
            campaigns=[marketing.campaign_read(c) for c in rows],
            promotions=by_campaign,
            tabs=tabs("campaigns", page.tenant.slug, page.role, request.url.path)
            if page.tenant and page.role
            else [],
            tabs_label=N_("Campaigns"),
        ),
        page=page,
    )
