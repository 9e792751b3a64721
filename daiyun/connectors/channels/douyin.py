"""Douyin Shop (抖店): ``order.searchList`` pulled by update time, pushes as hints to re-fetch.

Every call is a POST to ``/{method with dots as slashes}`` carrying the app key, the method, the
shop's access token, a Beijing timestamp and an HMAC-SHA256 signature in the query, and the
business parameters as the body: compact JSON with its keys sorted. Answers come in an envelope
``{"code": 10000, "msg": "success", "data": ...}``; code 50002 is flow control (waited out and
retried here, bounded), 30001/30002 an expired or invalid access token (refreshed once through
``token.refresh``, then the shop needs re-authorising).

Times are Unix seconds and money is integer fen. Receiver fields arrive encrypted and are kept
exactly as sent: decrypting them is Douyin's own service, see :func:`decrypt_receiver`.

Pushes are HTTP POSTs of a JSON array of events signed with MD5 over the raw body; an event only
names an order (``p_id``) that changed, so a push becomes a hint to fetch those orders again
with ``order.orderDetail``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import structlog

from daiyun.connectors.channels import china_listings, china_messages, china_shipments
from daiyun.connectors.channels.base import (
    FetchedPage,
    ShopAccess,
    WebhookMessage,
    header_value,
    required,
    text_or_none,
    unit_price,
)
from daiyun.connectors.channels.china import (
    FLOW_CONTROL_ATTEMPTS,
    Answer,
    ForwardPages,
    GatewayConnector,
    json_answer,
    param_json,
    signing_text,
)
from daiyun.connectors.channels.china_wire import (
    BEIJING_OFFSET_MINUTES,
    CURRENCY,
    beijing_now,
    ciphertext,
    receiver_address,
    search_bounds,
    whole_number,
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
    excerpt,
)
from daiyun.connectors.http import ShopHttp
from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
    OrderStatus,
)

log = structlog.get_logger("daiyun.connectors.douyin")

API_HOST = "https://openapi-fxg.jinritemai.com"
API_VERSION = "2"
SIGN_METHOD = "hmac-sha256"
SEARCH_METHOD = "order.searchList"
DETAIL_METHOD = "order.orderDetail"
REFRESH_METHOD = "token.refresh"

SUCCESS_CODE = 10000
TOKEN_INVALID_CODES = frozenset({30001, 30002})
SIGN_ERROR_CODES = frozenset({40004})
THROTTLE_CODES = frozenset({50002})
# Flow-control answers to one call before the run is given back to the scheduler, and the first
# wait (doubled per answer, capped by the client's max_backoff).
THROTTLE_ATTEMPTS = FLOW_CONTROL_ATTEMPTS
THROTTLE_BASE_SECONDS = 1.0

FIRST_PAGE = 0
PAGE_SIZE = 100
PAGES = ForwardPages("douyin", FIRST_PAGE, PAGE_SIZE)
next_page = PAGES.next_page
# Widest update-time range per search (UNCONFIRMED) and how far back it reaches (UNCONFIRMED).
PULL_WINDOW = timedelta(days=1)
HISTORY = timedelta(days=90)
# Whether update_time_end is inclusive (UNCONFIRMED). The sync engine's windows are half-open,
# so an inclusive end is sent as the last whole second before the window's end.
END_TIME_INCLUSIVE = True

# Whether a line's origin_amount is the price of one unit rather than of the whole line, before
# discounts (UNCONFIRMED: Douyin documents it as "商品原价"; pay_amount is what the line cost).
ORIGIN_AMOUNT_PER_UNIT = False
# Codes Douyin refuses a parameter with; for order.orderDetail the only parameter is the order id,
# so they mean Douyin knows no such order of this shop (UNCONFIRMED).
PARAMETER_ERROR_CODES = range(40000, 50000)

# Push event tags naming an order: trade events are 1xx (101 created, 102 paid, 103 shipped,
# 105 cancelled, ...), refund events 2xx (200 refund created, 206 refund succeeded, ...).
# Reading every tag of those two ranges as an order event is UNCONFIRMED.
ORDER_TAG_RANGES = (range(100, 200), range(200, 300))
PUSH_TOPIC = "doudian_push"

STATUS_MAP: dict[int, OrderStatus] = {
    1: OrderStatus.pending,
    2: OrderStatus.paid,
    3: OrderStatus.shipped,
    4: OrderStatus.cancelled,
    5: OrderStatus.delivered,
    105: OrderStatus.partially_fulfilled,
}


def sign_request(app_key: str, app_secret: str, method: str, params: str, timestamp: str) -> str:
    """Douyin's signature: lowercase hex HMAC-SHA256 with the secret as key, over
    ``secret + "app_key" + app_key + "method" + method + "param_json" + params + "timestamp" +
    timestamp + "v" + "2" + secret`` (the sorted name+value pairs, wrapped in the secret)."""
    pairs = signing_text(
        {
            "app_key": app_key,
            "method": method,
            "param_json": params,
            "timestamp": timestamp,
            "v": API_VERSION,
        }
    )
    text = app_secret + pairs + app_secret
    return hmac.new(app_secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def push_signature(app_key: str, app_secret: str, body: bytes) -> str:
    """The ``event-sign`` of a push: lowercase hex MD5(app_key + raw body + app_secret)."""
    # MD5 is Douyin's scheme, not a choice made here.
    digest = hashlib.md5(app_key.encode() + body + app_secret.encode(), usedforsecurity=False)
    return digest.hexdigest()


def search_times(start: datetime, end: datetime) -> tuple[int, int] | None:
    """``update_time_start``/``update_time_end`` covering the whole seconds of ``[start, end)``.

    Douyin compares update times to the second: an order updated exactly at ``end`` belongs to
    the next window, not this one, so an adjacent window never fetches it twice. None when the
    window holds no whole second.
    """
    return search_bounds(start, end, end_inclusive=END_TIME_INCLUSIVE)


def decrypt_receiver(credentials: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, str]:
    """Where decrypting receiver fields (``encrypt_post_receiver``, ``encrypt_post_tel``,
    ``encrypt_detail``) plugs in.

    Douyin decrypts them only through its own decryption API, metered per shop and open to apps
    it has approved for it. Until the agency has that access the platform keeps the ciphertext
    as Douyin sent it, and this hook refuses.
    """
    raise NotImplementedError(
        "Douyin receiver fields can only be decrypted through Douyin's decryption API by an app "
        "Douyin has approved for it; this platform keeps them encrypted"
    )


class DouyinConnector(GatewayConnector):
    channel: ClassVar[str] = "douyin"
    outbound: ClassVar[frozenset[str]] = frozenset({LISTINGS, SHIPMENTS, MESSAGES})
    carrier_codes: ClassVar[dict[str, str]] = dict(china_shipments.DOUYIN.carriers)
    # Douyin reads a push as delivered only from this body.
    webhook_reply: ClassVar[dict[str, Any] | None] = {"code": 0, "msg": "success"}
    credential_fields: ClassVar[tuple[str, ...]] = (
        "app_key",
        "app_secret",
        "access_token",
        "refresh_token",
        "shop_id",
    )
    webhook_secret_field: ClassVar[str | None] = "app_secret"
    max_window: ClassVar[timedelta] = PULL_WINDOW
    lag: ClassVar[timedelta] = timedelta(minutes=3)
    overlap: ClassVar[timedelta] = timedelta(minutes=3)
    history: ClassVar[timedelta] = HISTORY
    flow_control_codes: ClassVar[frozenset[int | str]] = THROTTLE_CODES
    official_hosts: ClassVar[tuple[str, ...]] = ("openapi-fxg.jinritemai.com",)
    token_refused_codes: ClassVar[frozenset[int | str]] = TOKEN_INVALID_CODES
    sign_refused_codes: ClassVar[frozenset[int | str]] = SIGN_ERROR_CODES
    first_backoff: ClassVar[float] = THROTTLE_BASE_SECONDS
    flow_control_attempts: ClassVar[int] = THROTTLE_ATTEMPTS

    def __init__(self, shop: ShopAccess, http: ShopHttp) -> None:
        super().__init__(shop, http)
        self._access_token = self._credential("access_token")
        self._refresh_token = self._credential("refresh_token")

    def _credential(self, name: str) -> str:
        value = self.shop.credentials.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            raise ConnectorError(f"douyin shop has no {name}")
        return value

    # The gateway.

    def _send(self, method: str, business: Mapping[str, Any], access_token: str | None) -> Answer:
        body = param_json(business)
        app_key = self._credential("app_key")
        timestamp = beijing_now()
        query = {"app_key": app_key, "method": method}
        if access_token is not None:
            query["access_token"] = access_token
        query |= {
            "timestamp": timestamp,
            "v": API_VERSION,
            "sign_method": SIGN_METHOD,
            "sign": sign_request(app_key, self._credential("app_secret"), method, body, timestamp),
        }
        base = (self.shop.api_base_url or API_HOST).rstrip("/")
        response = self.http.request(
            "POST",
            f"{base}/{method.replace('.', '/')}",
            params=query,
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        return _envelope(json_answer(response, self.channel, method), method)

    def _renew_token(self) -> None:
        business = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        # The refresh call itself carries no access token.
        answer = self.exchange(REFRESH_METHOD, business, None)
        token = answer.doc.get("access_token")
        if answer.failed or not isinstance(token, str) or not token:
            raise ReauthorizationNeeded(
                f"douyin refused to refresh the access token: {answer.code} {answer.text}".strip()
            )
        self._keep_tokens(token, answer.doc.get("refresh_token"))

    def fetch_messages(self, since: datetime) -> list[BuyerMessage]:
        return china_messages.fetch(self, china_messages.DOUYIN, since)

    def send_message(self, reply: MessageReply) -> str:
        return china_messages.send(self, china_messages.DOUYIN, reply)

    def push_shipment(self, push: ShipmentPush) -> ShipmentResult:
        return china_shipments.push(self, china_shipments.DOUYIN, push)

    def push_listings(self, pushes: Sequence[ListingPush]) -> list[ListingResult]:
        """One gateway call per listing (see :mod:`.china_listings`)."""
        return china_listings.push(self, china_listings.DOUYIN, pushes)

    # The pull.

    def fetch_page(self, start: datetime, end: datetime, token: str | None) -> FetchedPage:
        times = search_times(start, end)
        if times is None:
            return FetchedPage(orders=[])
        page, seen_total = PAGES.read_token(token)
        data = self.call(
            SEARCH_METHOD,
            {
                "update_time_start": times[0],
                "update_time_end": times[1],
                "page": page,
                "size": PAGE_SIZE,
                "order_by": "update_time",
                "order_asc": True,
            },
        )
        orders = data.get("shop_order_list") or []
        if not isinstance(orders, list):
            raise MalformedPayload("douyin search answer has no shop_order_list list")
        total = whole_number(data.get("total") or 0, "total")
        return FetchedPage(
            orders=[self.normalize(order) for order in orders],
            next_token=PAGES.token_after(page, total, seen_total, len(orders)),
        )

    def fetch_orders(self, external_ids: Sequence[str]) -> list[NormalizedOrder]:
        orders = []
        for order_id in external_ids:
            answer = self.answer(DETAIL_METHOD, {"shop_order_id": str(order_id)})
            code = answer.code
            if answer.failed and code in PARAMETER_ERROR_CODES and code not in SIGN_ERROR_CODES:
                # Not an order of this shop (any more): left out, as for a missing one.
                log.info("marketplace_order_not_found", shop=self.http.key, code=code)
                continue
            if answer.failed:
                raise self._refusal(DETAIL_METHOD, answer)
            detail = answer.doc.get("shop_order_detail")
            if isinstance(detail, dict) and detail:
                orders.append(self.normalize(detail))
        return orders

    # Pushes.

    @classmethod
    def verify_webhook(
        cls, headers: Mapping[str, str], body: bytes, credentials: Mapping[str, Any]
    ) -> bool:
        app_key = credentials.get("app_key")
        app_secret = credentials.get("app_secret")
        app_id = header_value(headers, "app-id")
        signature = header_value(headers, "event-sign")
        if not isinstance(app_key, str) or not isinstance(app_secret, str):
            return False
        if not app_key or not app_secret or not app_id or not signature:
            return False
        expected = push_signature(app_key, app_secret, body)
        signed = hmac.compare_digest(expected.encode(), signature.strip().lower().encode())
        ours = hmac.compare_digest(app_key.encode(), app_id.strip().encode())
        return signed and ours

    @classmethod
    def parse_webhook(cls, headers: Mapping[str, str], body: bytes) -> WebhookMessage:
        events = _events(body)
        msg_ids = [event[0] for event in events]
        tags = [event[1] for event in events]
        order_ids: list[str] = []
        shop_ids: list[str] = []
        for _, tag, data in events:
            if not _is_order_tag(tag):
                continue
            order_id = _id(data.get("p_id"), "p_id")
            if order_id not in order_ids:
                order_ids.append(order_id)
            shop_id = data.get("shop_id")
            if shop_id is not None and str(shop_id) not in shop_ids:
                shop_ids.append(str(shop_id))
        key = hashlib.sha256("\n".join(sorted(msg_ids)).encode()).hexdigest()
        return WebhookMessage(
            # A push naming no order (a test message, an event of another kind) changes nothing.
            kind="hint" if order_ids else "ignored",
            topic=PUSH_TOPIC,
            dedupe_key=key,
            order_ids=order_ids,
            detail={"msg_ids": msg_ids, "tags": tags, "shop_ids": shop_ids},
        )

    @staticmethod
    def normalize(raw: dict[str, Any]) -> NormalizedOrder:
        if not isinstance(raw, dict):
            raise MalformedPayload("douyin order is not an object")
        order_id = _id(required(raw, "order_id"), "order_id")
        status_code = whole_number(required(raw, "order_status"), "order_status")
        skus = raw.get("sku_order_list") or []
        if not isinstance(skus, list):
            raise MalformedPayload("sku_order_list is not a list")
        lines_and_gross = [_line(sku) for sku in skus]
        lines = [line for line, _ in lines_and_gross]
        total = _fen(required(raw, "pay_amount"), "pay_amount")
        refunds = _refunds(order_id, raw.get("after_sale_info"))
        return NormalizedOrder(
            receiver_encrypted=True,
            external_id=order_id,
            status=_status(status_code, sum(r.amount_minor for r in refunds), total),
            channel_status=str(status_code),
            currency=CURRENCY,
            total_minor=total,
            subtotal_minor=sum(gross for _, gross in lines_and_gross),
            discount_minor=_fen(raw.get("promotion_amount"), "promotion_amount"),
            shipping_minor=_fen(raw.get("post_amount"), "post_amount"),
            tax_minor=0,
            placed_at=_unix(required(raw, "create_time"), "create_time"),
            source_updated_at=_unix(required(raw, "update_time"), "update_time"),
            paid_at=_optional_unix(raw.get("pay_time"), "pay_time"),
            source_offset_minutes=BEIJING_OFFSET_MINUTES,
            # Douyin names no buyer apart from the (encrypted) receiver in the address.
            buyer_name=None,
            buyer_email=None,
            buyer_phone=None,
            shipping_address=_address(raw),
            lines=lines,
            refunds=refunds,
            raw=raw,
        )


def _envelope(doc: dict[str, Any], method: str) -> Answer:
    """Douyin's envelope ``{"code", "msg", "data"}`` as an answer; 10000 is success."""
    try:
        code = whole_number(doc.get("code"), "code")
    except MalformedPayload as exc:
        raise MalformedPayload(f"douyin answer to {method} has no code") from exc
    message = excerpt(doc.get("sub_msg") or doc.get("msg") or "")
    data = doc.get("data")
    if code == SUCCESS_CODE and not isinstance(data, dict):
        raise MalformedPayload(f"douyin answer to {method} has no data object")
    return Answer(
        data if isinstance(data, dict) else {},
        failed=code != SUCCESS_CODE,
        code=code,
        text=message,
    )


def _events(body: bytes) -> list[tuple[str, str, dict[str, Any]]]:
    """The (msg_id, tag, data) of each event of a push, or :class:`MalformedPayload`."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"douyin push body is not JSON: {exc}") from exc
    if not isinstance(doc, list) or not doc:
        raise MalformedPayload("douyin push body is not a non-empty array of events")
    events = []
    for index, event in enumerate(doc):
        where = f"douyin push event {index}"
        if not isinstance(event, dict):
            raise MalformedPayload(f"{where} is not an object")
        msg_id = _id(required(event, "msg_id", where), f"{where} msg_id")
        tag = _id(required(event, "tag", where), f"{where} tag")
        data = required(event, "data", where)
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise MalformedPayload(f"{where} data is not JSON") from exc
        if not isinstance(data, dict):
            raise MalformedPayload(f"{where} data is not an object")
        events.append((msg_id, tag, data))
    return events


def _is_order_tag(tag: str) -> bool:
    return tag.isdigit() and any(int(tag) in tags for tags in ORDER_TAG_RANGES)


def _id(value: Any, name: str) -> str:
    """An identifier Douyin sends as a string or as an integer, as a string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise MalformedPayload(f"{name} is missing or not an identifier")


def _fen(value: Any, name: str) -> int:
    """An amount in fen: the integer already is the minor unit of CNY."""
    if value is None or value == "":
        return 0
    return whole_number(value, name)


def _unix(value: Any, name: str) -> datetime:
    seconds = whole_number(value, name)
    if seconds <= 0:
        raise MalformedPayload(f"{name} is not a time: {value!r}")
    return datetime.fromtimestamp(seconds, UTC)


def _optional_unix(value: Any, name: str) -> datetime | None:
    """A time Douyin sends as 0 (or leaves out) until it happens."""
    if value is None or value == "" or value == 0 or value == "0":
        return None
    return _unix(value, name)


def _status(code: int, refunded: int, paid: int) -> OrderStatus:
    mapped = STATUS_MAP.get(code, OrderStatus.pending)
    # A cancellation outranks a refund: the order will not go on either way.
    if mapped is OrderStatus.cancelled or refunded <= 0:
        return mapped
    return OrderStatus.refunded if refunded >= paid else OrderStatus.partially_refunded


def _refunds(order_id: str, info: Any) -> list[NormalizedRefund]:
    """The refund an order's after-sales record shows as paid back, if any.

    The record carries no id of its own and no status this connector can read with certainty
    (UNCONFIRMED): money counts as refunded once the record has an amount and a refund time.
    """
    if not isinstance(info, dict) or not info:
        return []
    amount = _fen(info.get("refund_amount"), "after_sale_info.refund_amount")
    refunded_at = _optional_unix(info.get("refund_time"), "after_sale_info.refund_time")
    if amount <= 0 or refunded_at is None:
        return []
    return [
        NormalizedRefund(
            external_id=f"{order_id}-after-sale",
            amount_minor=amount,
            refunded_at=refunded_at,
        )
    ]


def _name(part: Any) -> str | None:
    return text_or_none(part.get("name")) if isinstance(part, dict) else None


def _address(raw: Mapping[str, Any]) -> Address | None:
    post_addr = raw.get("post_addr")
    if not isinstance(post_addr, dict):
        post_addr = {}
    return receiver_address(
        Address(
            name=ciphertext(raw.get("encrypt_post_receiver")),
            phone=ciphertext(raw.get("encrypt_post_tel")),
            country="CN",
            province=_name(post_addr.get("province")),
            city=_name(post_addr.get("city")),
            district=_name(post_addr.get("town")),
            address1=ciphertext(post_addr.get("encrypt_detail")),
        )
    )


def _line(sku: Any) -> tuple[NormalizedLine, int]:
    """One line and its amount before discounts (see :data:`ORIGIN_AMOUNT_PER_UNIT`).

    ``pay_amount`` is what the whole line cost; what it falls short of the line's price before
    discounts is the line's discount.
    """
    where = "sku_order_list[]"
    if not isinstance(sku, dict):
        raise MalformedPayload(f"{where} is not an object")
    quantity = whole_number(required(sku, "item_num", where), f"{where} item_num")
    origin = _fen(sku.get("origin_amount"), f"{where} origin_amount")
    paid = _fen(sku.get("pay_amount"), f"{where} pay_amount")
    if ORIGIN_AMOUNT_PER_UNIT:
        unit, rounding = origin, 0
        gross = origin * quantity
    else:
        # A whole line's price need not split evenly into units: the rounding is a discount.
        unit, rounding = unit_price(origin, quantity)
        gross = origin
    line = NormalizedLine(
        external_id=_id(required(sku, "sku_order_id", where), f"{where} sku_order_id"),
        sku=str(sku.get("code") or ""),
        title=str(sku.get("product_name") or ""),
        quantity=quantity,
        unit_price_minor=unit,
        discount_minor=gross - paid + rounding,
    )
    return line, gross
