"""The agency console: every assigned merchant at once, review queue, sync health, billing."""

from __future__ import annotations

from fastapi import APIRouter

from daiyun.portal.web import PREFIX

router = APIRouter(prefix=PREFIX, include_in_schema=False)
