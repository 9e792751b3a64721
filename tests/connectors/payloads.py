"""Marketplace webhook bodies as the documentation shows them, signed like the marketplace."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any

SHOPIFY_SECRET = "shopify-secret"
WOO_SECRET = "woo-secret"


def shopify_order(
    order_id: int = 450789469,
    *,
    updated_at: str = "2026-10-15T16:00:00+08:00",
    financial_status: str = "paid",
    fulfillment_status: str | None = None,
    phone: str = "+8613812345678",
) -> dict[str, Any]:
    return {
        "id": order_id,
        "name": f"#{order_id % 10000}",
        "order_number": order_id % 10000,
        "email": "xiaoming@example.com",
        "phone": phone,
        "created_at": "2026-10-15T15:00:00+08:00",
        "updated_at": updated_at,
        "processed_at": "2026-10-15T15:00:00+08:00",
        "cancelled_at": None,
        "cancel_reason": None,
        "currency": "CNY",
        "total_price": "59.98",
        "subtotal_price": "59.98",
        "total_discounts": "0.00",
        "total_tax": "0.00",
        "total_shipping_price_set": {
            "shop_money": {"amount": "0.00", "currency_code": "CNY"},
            "presentment_money": {"amount": "0.00", "currency_code": "CNY"},
        },
        "financial_status": financial_status,
        "fulfillment_status": fulfillment_status,
        "customer": {
            "id": 207119551,
            "first_name": "小明",
            "last_name": "王",
            "email": "xiaoming@example.com",
            "phone": phone,
        },
        "shipping_address": {
            "first_name": "小明",
            "last_name": "王",
            "name": "王小明",
            "address1": "文三路 100 号 5 幢 302 室",
            "address2": None,
            "city": "杭州市",
            "province": "浙江省",
            "country_code": "CN",
            "zip": "310012",
            "phone": phone,
        },
        "line_items": [
            {
                "id": 466157049,
                "sku": "TEA-001",
                "title": "西湖龙井 250g",
                "quantity": 2,
                "price": "29.99",
                "total_discount": "0.00",
                "tax_lines": [],
            }
        ],
        "refunds": [],
    }


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(
    body: bytes, topic: str = "orders/updated", event_id: str | None = None
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET, body),
        "X-Shopify-Shop-Domain": "lotus.myshopify.com",
        "X-Shopify-API-Version": "2024-10",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now().astimezone().isoformat(),
    }


def woo_order(order_id: int = 727, *, modified_gmt: str = "2026-10-15T08:00:00") -> dict[str, Any]:
    return {
        "id": order_id,
        "number": str(order_id),
        "status": "processing",
        "currency": "USD",
        "date_created": "2026-10-15T03:00:00",
        "date_created_gmt": "2026-10-15T07:00:00",
        "date_modified": modified_gmt,
        "date_modified_gmt": modified_gmt,
        "date_paid": "2026-10-15T03:01:00",
        "date_paid_gmt": "2026-10-15T07:01:00",
        "discount_total": "0.00",
        "shipping_total": "5.00",
        "total_tax": "0.00",
        "total": "25.00",
        "billing": {
            "first_name": "John",
            "last_name": "Doe",
            "email": "john.doe@example.com",
            "phone": "+1 415-555-0132",
        },
        "shipping": {
            "first_name": "John",
            "last_name": "Doe",
            "address_1": "969 Market Street",
            "address_2": "",
            "city": "San Francisco",
            "state": "CA",
            "postcode": "94103",
            "country": "US",
            "phone": "+1 415-555-0132",
        },
        "line_items": [
            {
                "id": 315,
                "name": "Woo Single #1",
                "sku": "WOO-1",
                "quantity": 2,
                "subtotal": "20.00",
                "total": "20.00",
                "total_tax": "0.00",
                "price": 10,
            }
        ],
        "refunds": [],
    }


def woo_headers(body: bytes, topic: str = "order.updated") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": sign(WOO_SECRET, body),
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": "abc",
    }


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()
