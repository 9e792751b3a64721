"""The merchant portal: dashboard, orders, statements and shops of one tenant."""

from __future__ import annotations

from fastapi import APIRouter

from daiyun.portal.web import PREFIX

router = APIRouter(prefix=PREFIX, include_in_schema=False)
