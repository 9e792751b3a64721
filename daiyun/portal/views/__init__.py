"""The portal's pages: one router for the app to include."""

from fastapi import APIRouter

from daiyun.portal.views import account, console, merchant

router = APIRouter()
for pages in (account, merchant, console):
    router.include_router(pages.router)
