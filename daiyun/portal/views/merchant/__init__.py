"""The merchant portal: dashboard, orders, statements and shops of one tenant.

Every page names its tenant in the path and is checked by :func:`tenant_page` with the permission
the matching API route asks for, so a page never shows what the API would refuse. The pages read
other domains through the functions their APIs use (order filters and masking, statements and
their exports, shop health, the reports dashboard); nothing here builds a query of its own.
Filters are GET forms, so every view can be bookmarked and works without JavaScript.
"""

from fastapi import APIRouter

from daiyun.portal.views.merchant import dashboard, orders, shops, statements

router = APIRouter()
for pages in (dashboard, orders, statements, shops):
    router.include_router(pages.router)
