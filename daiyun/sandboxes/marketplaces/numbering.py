"""Where each shop's id sequences start, and order numbers written as each marketplace writes them.

Shopify ids are large integers, WooCommerce ids are WordPress post ids (orders and refunds share
one sequence), Amazon ids are 3-7-7 digits. The Chinese marketplaces number orders globally, so
two sandbox shops of one of them get separate blocks (drawn from the shop's name) and never share
an order id: Taobao ``tid`` and Douyin ``order_id`` have 19 digits, JD ``orderId`` 12, and a
Pinduoduo ``order_sn`` is the Beijing date of creation, a dash and 15 digits.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

_ID_BASES: dict[str, dict[str, int]] = {
    "shopify": {
        "order": 5_510_000_000_000,
        "line": 13_900_000_000_000,
        "customer": 7_300_000_000_000,
        "refund": 930_000_000_000,
        "number": 1000,
    },
    "woocommerce": {"order": 1000, "line": 0, "customer": 0, "refund": 1000, "number": 0},
    "amazon": {"order": 0, "line": 10_000_000_000_000, "customer": 0, "refund": 0, "number": 0},
    # tid and oid: 19 digits, in ranges that never meet.
    "taobao": {
        "order": 3_800_000_000_000_000_000,
        "line": 3_810_000_000_000_000_000,
        "customer": 2_200_000_000,
        "refund": 150_000_000_000_000,
        "number": 0,
    },
    # The order_sn is formatted from the plain sequence (see external_id).
    "pinduoduo": {"order": 0, "line": 0, "customer": 0, "refund": 3_000_000_000, "number": 0},
    "jd": {"order": 300_000_000_000, "line": 0, "customer": 0, "refund": 0, "number": 0},
    "douyin": {
        "order": 6_900_000_000_000_000_000,
        "line": 6_910_000_000_000_000_000,
        "customer": 0,
        "refund": 7_100_000_000_000_000_000,
        "number": 0,
    },
}
# Size of each shop's block of order and line ids, for the marketplaces that number globally.
_BLOCK = {"taobao": 10**13, "douyin": 10**13, "jd": 10**9}


def shop_hash(name: str) -> int:
    return zlib.crc32(name.encode())


def first_id(channel: str, shop: str, kind: str) -> int:
    """The id just before a shop's first ``kind`` (order, line, customer, refund, number)."""
    base = _ID_BASES[channel][kind]
    block = _BLOCK.get(channel)
    if block is not None and kind in ("order", "line"):
        base += shop_hash(shop) % 100 * block
    return base


def external_id(channel: str, shop: str, order_id: int, created_at: datetime | None) -> str:
    """The order's id as the marketplace writes it (the key of the control API's order URLs)."""
    if channel == "amazon":
        # 3-7-7 digits, increasing with the id so that sorting by AmazonOrderId sorts by id.
        prefix = 111 + shop_hash(shop) % 800
        serial = 1_234_567_000_000 + order_id * 7_919
        return f"{prefix:03d}-{serial // 10**7:07d}-{serial % 10**7:07d}"
    if channel == "pinduoduo":
        day = (created_at or datetime.now(UTC)).astimezone(BEIJING).strftime("%y%m%d")
        return f"{day}-{shop_hash(shop) % 1000:03d}{order_id:012d}"
    return str(order_id)
