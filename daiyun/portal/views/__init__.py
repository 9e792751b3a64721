"""The portal's pages: one router for the app to include."""

from fastapi import APIRouter

from daiyun.portal.views import (
    account,
    catalog,
    catalog_console,
    catalog_listings,
    console,
    merchant,
)

router = APIRouter()
for pages in (account, merchant, catalog, catalog_listings, console, catalog_console):
    router.include_router(pages.router)
