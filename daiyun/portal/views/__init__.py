"""The portal's pages: one router for the app to include."""

from fastapi import APIRouter

from daiyun.portal.views import (
    account,
    aftersales,
    careers,
    catalog,
    catalog_console,
    catalog_listings,
    console,
    fulfillment,
    fulfillment_console,
    inbox_console,
    marketing,
    marketing_roas,
    merchant,
    quality,
    recruiting,
    returns_dock,
    service_library,
    shipping,
    shipping_console,
    stock,
    stock_sync,
    stocktake_console,
    survey,
    warehouse_console,
)

router = APIRouter()
for pages in (
    account,
    merchant,
    catalog,
    catalog_listings,
    stock,
    stock_sync,
    console,
    catalog_console,
    warehouse_console,
    stocktake_console,
    fulfillment,
    fulfillment_console,
    shipping,
    shipping_console,
    returns_dock,
    marketing,
    marketing_roas,
    inbox_console,
    service_library,
    aftersales,
    quality,
    recruiting,
    careers,
    survey,
):
    router.include_router(pages.router)
