"""The portal's pages: one router for the app to include."""

from fastapi import APIRouter

from daiyun.portal.views import account

router = APIRouter()
router.include_router(account.router)
