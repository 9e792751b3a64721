"""Pinduoduo: the signed ``/api/router`` gateway, orders pulled by update time, read backwards.

``pdd.order.number.list.increment.get`` lists the full orders updated in a window of at most
30 minutes, newest first; like Taobao's list it is read from the last page back with
:class:`~daiyun.connectors.channels.china.DescendingWalk`, so an order moving mid-walk is read
twice rather than skipped. An expired access token (10019) is renewed once per call with
``pdd.pop.auth.token.refresh``; flow control (52101, HTTP 200) is waited out with bounded backoff
on the shop's shared rate bucket.

Receiver name, phone and street come encrypted and stay so (see :func:`decrypt_receiver`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from daiyun.connectors.channels import china_listings, china_messages, china_shipments
from daiyun.connectors.channels.base import (
    FetchedPage,
    ShopAccess,
    minor_units,
    required,
    text_or_none,
)
from daiyun.connectors.channels.china import (
    Answer,
    DescendingWalk,
    GatewayConnector,
    error_code,
    error_response_answer,
    error_summary,
    json_answer,
)
from daiyun.connectors.channels.china import sign as gateway_sign
from daiyun.connectors.channels.china_wire import (
    BEIJING_OFFSET_MINUTES,
    CURRENCY,
    opaque,
    optional_beijing,
    parse_beijing,
    receiver_address,
    whole_number,
    whole_seconds,
)
from daiyun.connectors.channels.outbound import (
    LISTINGS,
    MESSAGES,
    SHIPMENTS,
    BuyerMessage,
    ListingPush,
    ListingResult,
    MessageReply,
    ShipmentPush,
    ShipmentResult,
)
from daiyun.connectors.errors import (
    ConnectorError,
    MalformedPayload,
    ReauthorizationNeeded,
)
from daiyun.connectors.http import ShopHttp
from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
    OrderStatus,
)

GATEWAY_BASE = "https://gw-api.pinduoduo.com"
GATEWAY_PATH = "/api/router"
API_VERSION = "V1"
LIST_METHOD = "pdd.order.number.list.increment.get"
DETAIL_METHOD = "pdd.order.information.get"
REFRESH_METHOD = "pdd.pop.auth.token.refresh"
PAGE_SIZE = 100
MAX_WINDOW = timedelta(minutes=30)
# List filters meaning "any": every order status, every refund status, lucky-bag orders or not.
ANY_ORDER_STATUS = 5
ANY_REFUND_STATUS = 5
IS_LUCKY_FLAG_ANY = 0

FLOW_CONTROL_CODES = frozenset({52101})
TOKEN_EXPIRED_CODES = frozenset({10019})
ERROR_TEXT_FIELDS = ("error_msg", "sub_code", "sub_msg")
# UNCONFIRMED: pdd.order.information.get answers an unknown order_sn as a bad parameter; it is
# the call's only business parameter, so there that code means "no such order".
ORDER_NOT_FOUND_CODES = frozenset({10000})
# The API behind decryption of receiver data (not reachable from this deployment).
DECRYPT_METHOD = "pdd.open.decrypt.batch"

ORDER_STATUS_MAP: dict[int, OrderStatus] = {
    1: OrderStatus.paid,  # awaiting shipment
    2: OrderStatus.shipped,
    3: OrderStatus.delivered,  # received by the buyer
}
REFUNDED = 3
# UNCONFIRMED beyond 1: confirm_status 0 = not concluded yet (a group not formed), 2 = cancelled.
CONFIRMED = 1
CONFIRM_CANCELLED = 2


def sign(params: Mapping[str, object], secret: str) -> str:
    """Pinduoduo's signature: upper-case hex MD5 of ``secret + sorted name+value pairs + secret``
    (every parameter but ``sign``, values as strings)."""
    return gateway_sign(params, secret, "md5")


def decrypt_receiver(credentials: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, str]:
    """Decrypt an order's receiver fields (name, phone, address): the hook for the real thing.

    Decryption goes through the marketplace's own decrypt API with the mall's access token and
    is only granted to approved apps; this deployment cannot reach it, so the fields stay
    encrypted.
    """
    raise NotImplementedError(
        f"pinduoduo receiver fields ({len(fields)}) stay encrypted: decrypting them needs "
        f"{DECRYPT_METHOD}, which this deployment cannot reach"
    )


class PddError(ConnectorError):
    """Pinduoduo answered with an ``error_response`` (other than those handled on the way)."""

    def __init__(self, method: str, error: Mapping[str, Any]) -> None:
        summary = error_summary(error, "error_code", ERROR_TEXT_FIELDS)
        super().__init__(f"pinduoduo {method} failed: {summary}")
        self.code = error_code(error.get("error_code"))


class PinduoduoConnector(GatewayConnector):
    channel: ClassVar[str] = "pinduoduo"
    outbound: ClassVar[frozenset[str]] = frozenset({LISTINGS, SHIPMENTS, MESSAGES})
    carrier_codes: ClassVar[dict[str, str]] = dict(china_shipments.PINDUODUO.carriers)
    credential_fields: ClassVar[tuple[str, ...]] = (
        "client_id",
        "client_secret",
        "access_token",
        "refresh_token",
    )
    webhook_secret_field: ClassVar[str | None] = None
    max_window: ClassVar[timedelta] = MAX_WINDOW
    # Keep the window end a few minutes behind PDD's clock.
    lag: ClassVar[timedelta] = timedelta(minutes=5)
    overlap: ClassVar[timedelta] = timedelta(minutes=2)
    history: ClassVar[timedelta] = timedelta(days=90)
    flow_control_codes: ClassVar[frozenset[int | str]] = FLOW_CONTROL_CODES
    # The one gateway, and the message service the push consumer connects to.
    official_hosts: ClassVar[tuple[str, ...]] = (
        "gw-api.pinduoduo.com",
        "message-api.pinduoduo.com",
    )
    token_refused_codes: ClassVar[frozenset[int | str]] = TOKEN_EXPIRED_CODES

    def __init__(self, shop: ShopAccess, http: ShopHttp) -> None:
        super().__init__(shop, http)
        self._access_token = str(shop.credentials.get("access_token") or "")
        self._refresh_token = str(shop.credentials.get("refresh_token") or "")
        self._walk = DescendingWalk(
            self._list_page,
            key=lambda order: str(required(order, "order_sn")),
            stamp=lambda order: whole_seconds(
                parse_beijing(required(order, "updated_at"), "updated_at")
            ),
            page_size=PAGE_SIZE,
            slice_seconds=int(MAX_WINDOW.total_seconds()),
        )

    # Calls.

    def _url(self) -> str:
        return (self.shop.api_base_url or GATEWAY_BASE).rstrip("/") + GATEWAY_PATH

    def _send(self, method: str, business: Mapping[str, Any], access_token: str | None) -> Answer:
        credentials = self.shop.credentials
        params: dict[str, str] = {
            "type": method,
            "client_id": str(credentials["client_id"]),
            "timestamp": str(int(time.time())),
            "data_type": "JSON",
            "version": API_VERSION,
        }
        if access_token is not None:
            params["access_token"] = access_token
        params.update({name: str(value) for name, value in business.items()})
        params["sign"] = sign(params, str(credentials["client_secret"]))
        response = self.http.request("POST", self._url(), data=params)
        doc = json_answer(response, self.channel, method)
        return error_response_answer(doc, self.channel, method, "error_code", ERROR_TEXT_FIELDS)

    def _refusal(self, method: str, answer: Answer) -> ConnectorError:
        return PddError(method, answer.doc)

    def _renew_token(self) -> None:
        if not self._refresh_token:
            raise ReauthorizationNeeded(
                "pinduoduo access token expired and the shop has no refresh token"
            )
        # The refresh call itself carries no access token.
        answer = self.exchange(REFRESH_METHOD, {"refresh_token": self._refresh_token}, None)
        if answer.failed:
            summary = error_summary(answer.doc, "error_code", ERROR_TEXT_FIELDS)
            raise ReauthorizationNeeded(f"pinduoduo token refresh failed: {summary}")
        body = answer.doc.get("pop_auth_token_refresh_response")
        if not isinstance(body, dict):
            raise MalformedPayload("pinduoduo token refresh answer has no response object")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise MalformedPayload("pinduoduo token refresh answer has no access_token")
        self._keep_tokens(token, body.get("refresh_token"))

    # Pull.

    def _list_page(self, lo: int, hi: int, page: int) -> tuple[list[dict[str, Any]], int]:
        # No use_has_next: every page then also reports the total, which shows the list moving.
        doc = self.call(
            LIST_METHOD,
            {
                "start_updated_at": lo,
                "end_updated_at": hi,
                "is_lucky_flag": IS_LUCKY_FLAG_ANY,
                "order_status": ANY_ORDER_STATUS,
                "refund_status": ANY_REFUND_STATUS,
                "page": page,
                "page_size": PAGE_SIZE,
            },
        )
        body = doc.get("order_sn_increment_get_response")
        if not isinstance(body, dict):
            raise MalformedPayload(f"pinduoduo {LIST_METHOD} answer has no response object")
        total = whole_number(body.get("total_count", 0), "total_count")
        orders = body.get("order_sn_list") or []
        if not isinstance(orders, list) or not all(isinstance(o, dict) for o in orders):
            raise MalformedPayload(f"pinduoduo {LIST_METHOD} order_sn_list is not a list")
        return orders, total

    def fetch_messages(self, since: datetime) -> list[BuyerMessage]:
        return china_messages.fetch(self, china_messages.PINDUODUO, since)

    def send_message(self, reply: MessageReply) -> str:
        return china_messages.send(self, china_messages.PINDUODUO, reply)

    def push_shipment(self, push: ShipmentPush) -> ShipmentResult:
        return china_shipments.push(self, china_shipments.PINDUODUO, push)

    def push_listings(self, pushes: Sequence[ListingPush]) -> list[ListingResult]:
        """One gateway call per listing (see :mod:`.china_listings`)."""
        return china_listings.push(self, china_listings.PINDUODUO, pushes)

    def fetch_page(self, start: datetime, end: datetime, token: str | None) -> FetchedPage:
        orders, next_token = self._walk.step(start, end, token)
        return FetchedPage(orders=[self.normalize(o) for o in orders], next_token=next_token)

    def fetch_orders(self, external_ids: Sequence[str]) -> list[NormalizedOrder]:
        found = []
        for order_sn in dict.fromkeys(str(i).strip() for i in external_ids):
            if not order_sn:
                continue
            try:
                doc = self.call(DETAIL_METHOD, {"order_sn": order_sn})
            except PddError as exc:
                if exc.code in ORDER_NOT_FOUND_CODES:
                    continue
                raise
            body = doc.get("order_info_get_response")
            info = body.get("order_info") if isinstance(body, dict) else None
            if not isinstance(info, dict):
                raise MalformedPayload(f"pinduoduo {DETAIL_METHOD} answer has no order_info")
            found.append(self.normalize(info))
        return found

    # Normalization.

    @staticmethod
    def normalize(raw: dict[str, Any]) -> NormalizedOrder:
        order_sn = str(required(raw, "order_sn"))
        order_status = whole_number(required(raw, "order_status"), "order_status")
        refund_status = whole_number(raw.get("refund_status") or 1, "refund_status")
        confirm = raw.get("confirm_status")
        confirm_status = None if confirm in (None, "") else whole_number(confirm, "confirm_status")
        created = parse_beijing(required(raw, "created_time"), "created_time")
        updated = parse_beijing(required(raw, "updated_at"), "updated_at")
        total = minor_units(required(raw, "pay_amount"), CURRENCY, "pay_amount")

        status = ORDER_STATUS_MAP.get(order_status, OrderStatus.pending)
        if confirm_status == CONFIRM_CANCELLED:
            status = OrderStatus.cancelled
        elif confirm_status is not None and confirm_status != CONFIRMED and order_status == 1:
            status = OrderStatus.pending
        refunds = []
        if refund_status == REFUNDED:
            given = raw.get("refund_amount")
            amount = total if given in (None, "") else minor_units(given, CURRENCY, "refund_amount")
            refunds.append(
                NormalizedRefund(
                    external_id=f"{order_sn}:refund", amount_minor=amount, refunded_at=updated
                )
            )
            status = OrderStatus.refunded if amount >= total else OrderStatus.partially_refunded

        paid = optional_beijing(raw.get("pay_time"), "pay_time") or optional_beijing(
            raw.get("confirm_time"), "confirm_time"
        )
        return NormalizedOrder(
            external_id=order_sn,
            status=status,
            channel_status=_channel_status(order_status, refund_status, confirm_status),
            currency=CURRENCY,
            total_minor=total,
            subtotal_minor=minor_units(raw.get("goods_amount"), CURRENCY, "goods_amount"),
            discount_minor=minor_units(raw.get("discount_amount"), CURRENCY, "discount_amount"),
            shipping_minor=minor_units(raw.get("postage"), CURRENCY, "postage"),
            tax_minor=0,
            placed_at=created,
            source_updated_at=updated,
            paid_at=paid,
            source_offset_minutes=BEIJING_OFFSET_MINUTES,
            shipping_address=_address(raw),
            # Name, phone and street come encrypted: no check here can read them.
            receiver_encrypted=True,
            lines=_lines(raw),
            refunds=refunds,
            raw=raw,
        )


def _channel_status(order_status: int, refund_status: int, confirm_status: int | None) -> str:
    """PDD's three status fields in one string, e.g. ``order:2,refund:1,confirm:1``."""
    text = f"order:{order_status},refund:{refund_status}"
    return text if confirm_status is None else f"{text},confirm:{confirm_status}"


def _lines(raw: Mapping[str, Any]) -> list[NormalizedLine]:
    items = raw.get("item_list") or []
    if not isinstance(items, list):
        raise MalformedPayload("item_list is not a list")
    lines = []
    used: set[str] = set()
    for index, item in enumerate(items, 1):
        where = "item_list[]"
        if not isinstance(item, dict):
            raise MalformedPayload(f"{where} is not an object")
        sku_id = text_or_none(item.get("sku_id"))
        goods_id = text_or_none(item.get("goods_id"))
        # PDD items carry no line id: the SKU id names the line (twice in one order: numbered).
        line_id = sku_id or goods_id or str(index)
        if line_id in used:
            line_id = f"{line_id}#{index}"
        used.add(line_id)
        lines.append(
            NormalizedLine(
                external_id=line_id,
                sku=text_or_none(item.get("outer_id")) or sku_id or goods_id or "",
                title=str(item.get("goods_name") or ""),
                quantity=whole_number(required(item, "goods_count", where), "goods_count"),
                unit_price_minor=minor_units(
                    required(item, "goods_price", where), CURRENCY, "goods_price"
                ),
            )
        )
    return lines


def _address(raw: Mapping[str, Any]) -> Address | None:
    # Receiver name, phone and street come encrypted: kept exactly as sent.
    return receiver_address(
        Address(
            name=opaque(raw.get("receiver_name")),
            phone=opaque(raw.get("receiver_phone")),
            country="CN",
            province=opaque(raw.get("province")),
            city=opaque(raw.get("city")),
            district=opaque(raw.get("town")),
            address1=opaque(raw.get("receiver_address")),
        )
    )
