"""Taobao / Tmall (TOP): signed gateway calls, trades pulled by modification time, read backwards.

Every call goes to one gateway (``/router/rest``) with the API method named in a parameter and the
whole request signed (:func:`sign`). ``taobao.trades.sold.increment.get`` lists the trades
modified in a window, newest first and only partly; each listed trade is then read in full with
``taobao.trade.fullinfo.get``. Because the list is newest first, a walk from page 1 onwards
silently skips a trade whenever another one leaves the window mid-walk (everything after it moves
up a page); :class:`DescendingWalk` learns the total first and reads from the last page back.

Sessions die (code 27): the connector renews one through the OAuth token endpoint with the shop's
refresh token, once per call, keeps it for the rest of the run and exposes it as
``refreshed_credentials`` for the caller to store. Flow control (code 7, HTTP 200) is waited out on
the shop's shared rate bucket, within bounds.

Receiver data comes encrypted and stays so: the opaque strings go into the address unchanged and
are never logged; :func:`decrypt_receiver` is where decryption would plug in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from daiyun.connectors.channels import china_listings, china_shipments
from daiyun.connectors.channels.base import (
    FetchedPage,
    ShopAccess,
    minor_units,
    required,
    text_or_none,
)
from daiyun.connectors.channels.china import (
    SIGN_METHODS,
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
    beijing_now,
    beijing_text,
    opaque,
    optional_beijing,
    parse_beijing,
    receiver_address,
    whole_number,
    whole_seconds,
)
from daiyun.connectors.channels.outbound import (
    LISTINGS,
    SHIPMENTS,
    ListingPush,
    ListingResult,
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

GATEWAY_BASE = "https://eco.taobao.com"
GATEWAY_PATH = "/router/rest"
# UNCONFIRMED: the OAuth host that renews a session with a refresh token; with an api_base_url
# the endpoint is ``{api_base_url}/token``.
OAUTH_TOKEN_URL = "https://oauth.taobao.com/token"
TOKEN_PATH = "/token"
API_VERSION = "2.0"
DEFAULT_SIGN_METHOD = "md5"

LIST_METHOD = "taobao.trades.sold.increment.get"
FULLINFO_METHOD = "taobao.trade.fullinfo.get"
PAGE_SIZE = 100
# The widest window the list call accepts, and the one TOP recommends (and this connector reads
# in): a wider window given to fetch_page is walked in slices of this width.
MAX_WINDOW = timedelta(days=1)
RECOMMENDED_WINDOW = timedelta(minutes=30)
LIST_FIELDS = "tid,status,modified"
TRADE_FIELDS = ",".join(
    (
        "tid",
        "status",
        "created",
        "modified",
        "pay_time",
        "consign_time",
        "end_time",
        "payment",
        "total_fee",
        "post_fee",
        "discount_fee",
        "buyer_open_uid",
        "receiver_name",
        "receiver_mobile",
        "receiver_state",
        "receiver_city",
        "receiver_district",
        "receiver_address",
        "receiver_zip",
        "oaid",
        "orders",
    )
)

# Error codes TOP answers with HTTP 200 inside ``error_response``, and the texts it adds.
FLOW_CONTROL_CODES = frozenset({7})
SESSION_INVALID_CODES = frozenset({27})
ERROR_TEXT_FIELDS = ("msg", "sub_code", "sub_msg")
# UNCONFIRMED: the sub-code fullinfo answers for a trade that does not exist (or not any more).
TRADE_NOT_FOUND_SUB_CODES = frozenset({"isv.trade-not-exist"})
# OAuth errors only a person re-authorising the app can fix.
REAUTHORIZE_OAUTH_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})
# "This ban will last for 1 more seconds": how long TOP asks the app to wait.
_BAN_SECONDS = re.compile(r"(\d+)\s+more\s+seconds?", re.IGNORECASE)
# The API behind decryption of receiver data (not reachable from this deployment).
DECRYPT_METHOD = "taobao.top.oaid.decrypt"

# The contract's eight statuses, and (UNCONFIRMED) four more from TOP's wider status list:
# unpaid or awaiting payment confirmation, and paid but barred from shipping.
STATUS_MAP: dict[str, OrderStatus] = {
    "TRADE_NO_CREATE_PAY": OrderStatus.pending,
    "WAIT_BUYER_PAY": OrderStatus.pending,
    "PAY_PENDING": OrderStatus.pending,
    "WAIT_PRE_AUTH_CONFIRM": OrderStatus.pending,
    "WAIT_SELLER_SEND_GOODS": OrderStatus.paid,
    "PAID_FORBID_CONSIGN": OrderStatus.on_hold,
    "SELLER_CONSIGNED_PART": OrderStatus.partially_fulfilled,
    "WAIT_BUYER_CONFIRM_GOODS": OrderStatus.shipped,
    "TRADE_BUYER_SIGNED": OrderStatus.delivered,
    "TRADE_FINISHED": OrderStatus.delivered,
    "TRADE_CLOSED": OrderStatus.cancelled,
    "TRADE_CLOSED_BY_TAOBAO": OrderStatus.cancelled,
}
REFUND_SUCCESS = "SUCCESS"


def sign(params: Mapping[str, object], secret: str, method: str = DEFAULT_SIGN_METHOD) -> str:
    """TOP's request signature (md5, hmac or hmac-sha256; see the shared ``china.sign``):
    parameters with an empty value take no part."""
    return gateway_sign(params, secret, method, skip_empty=True)


def decrypt_receiver(credentials: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, str]:
    """Decrypt a trade's receiver fields (name, mobile, address): the hook for the real thing.

    Decryption goes through the marketplace's own decrypt API with the seller's session and is
    only granted to approved apps; this deployment cannot reach it, so the fields stay encrypted.
    """
    raise NotImplementedError(
        f"taobao receiver fields ({len(fields)}) stay encrypted: decrypting them needs "
        f"{DECRYPT_METHOD}, which this deployment cannot reach"
    )


class TopError(ConnectorError):
    """TOP answered a call with an ``error_response`` (other than those handled on the way)."""

    def __init__(self, method: str, error: Mapping[str, Any]) -> None:
        super().__init__(
            f"taobao {method} failed: {error_summary(error, 'code', ERROR_TEXT_FIELDS)}"
        )
        self.code = error_code(error.get("code"))
        self.sub_code = str(error.get("sub_code") or "")


class TaobaoConnector(GatewayConnector):
    channel: ClassVar[str] = "taobao"
    outbound: ClassVar[frozenset[str]] = frozenset({LISTINGS, SHIPMENTS})
    carrier_codes: ClassVar[dict[str, str]] = dict(china_shipments.TAOBAO.carriers)
    credential_fields: ClassVar[tuple[str, ...]] = (
        "app_key",
        "app_secret",
        "session",
        "refresh_token",
    )
    # Optional credential: md5 (default), hmac or hmac-sha256.
    optional_credential_fields: ClassVar[tuple[str, ...]] = ("sign_method",)
    webhook_secret_field: ClassVar[str | None] = None
    max_window: ClassVar[timedelta] = MAX_WINDOW
    recommended_window: ClassVar[timedelta] = RECOMMENDED_WINDOW
    lag: ClassVar[timedelta] = timedelta(minutes=3)
    overlap: ClassVar[timedelta] = timedelta(minutes=5)
    history: ClassVar[timedelta] = timedelta(days=90)
    flow_control_codes: ClassVar[frozenset[int | str]] = FLOW_CONTROL_CODES
    # TOP's gateways (Tmall shares them), its OAuth host and TMC's push service.
    official_hosts: ClassVar[tuple[str, ...]] = (
        "eco.taobao.com",
        "gw.api.taobao.com",
        "oauth.taobao.com",
        "mc.api.taobao.com",
    )
    token_refused_codes: ClassVar[frozenset[int | str]] = SESSION_INVALID_CODES
    token_field: ClassVar[str] = "session"

    def __init__(self, shop: ShopAccess, http: ShopHttp) -> None:
        super().__init__(shop, http)
        credentials = shop.credentials
        self._access_token = str(credentials.get("session") or "")
        self._refresh_token = str(credentials.get("refresh_token") or "")
        self._sign_method = str(credentials.get("sign_method") or DEFAULT_SIGN_METHOD)
        if self._sign_method not in SIGN_METHODS:
            raise ConnectorError(f"taobao sign_method {self._sign_method!r} is not supported")
        self._walk = DescendingWalk(
            self._list_page,
            key=lambda trade: str(required(trade, "tid", "trade")),
            stamp=lambda trade: whole_seconds(
                parse_beijing(required(trade, "modified", "trade"), "modified")
            ),
            page_size=PAGE_SIZE,
            slice_seconds=int(self.recommended_window.total_seconds()),
        )

    # Calls.

    def _base(self) -> str:
        return (self.shop.api_base_url or GATEWAY_BASE).rstrip("/")

    def _token_url(self) -> str:
        if self.shop.api_base_url:
            return self.shop.api_base_url.rstrip("/") + TOKEN_PATH
        return OAUTH_TOKEN_URL

    def _send(self, method: str, business: Mapping[str, Any], access_token: str | None) -> Answer:
        credentials = self.shop.credentials
        params: dict[str, str] = {
            "method": method,
            "app_key": str(credentials["app_key"]),
            "session": access_token or "",
            "timestamp": beijing_now(),
            "format": "json",
            "v": API_VERSION,
            "sign_method": self._sign_method,
        }
        params.update({name: str(value) for name, value in business.items()})
        params["sign"] = sign(params, str(credentials["app_secret"]), self._sign_method)
        response = self.http.request("POST", self._base() + GATEWAY_PATH, data=params)
        doc = json_answer(response, self.channel, method)
        return error_response_answer(doc, self.channel, method, "code", ERROR_TEXT_FIELDS)

    def _refusal(self, method: str, answer: Answer) -> ConnectorError:
        return TopError(method, answer.doc)

    def _flow_control_wait(self, answer: Answer, attempt: int) -> float:
        # TOP says how long the ban lasts ("... for 2 more seconds"): waited as said, unbounded
        # here, because the shop's client gives the run back rather than wait beyond its bound.
        message = str(answer.doc.get("sub_msg") or answer.doc.get("msg") or "")
        found = _BAN_SECONDS.search(message)
        if found:
            return float(found.group(1))
        return super()._flow_control_wait(answer, attempt)

    def _renew_token(self) -> None:
        """Trade the refresh token for a new session; only a person can fix a refusal."""
        if not self._refresh_token:
            raise ReauthorizationNeeded("taobao session expired and the shop has no refresh token")
        credentials = self.shop.credentials
        response = self.http.request(
            "POST",
            self._token_url(),
            data={
                "grant_type": "refresh_token",
                "client_id": str(credentials["app_key"]),
                "client_secret": str(credentials["app_secret"]),
                "refresh_token": self._refresh_token,
            },
        )
        try:
            doc = response.json()
        except ValueError:
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        if response.status_code != 200:
            error = excerpt(doc.get("error") or "", 100)
            text = f"taobao token refresh answered HTTP {response.status_code} {error}".strip()
            if error in REAUTHORIZE_OAUTH_ERRORS or response.status_code in (400, 401, 403):
                raise ReauthorizationNeeded(text)
            raise ConnectorError(text)
        session = doc.get("access_token")
        if not isinstance(session, str) or not session:
            raise MalformedPayload("taobao token refresh answer has no access_token")
        self._keep_tokens(session, doc.get("refresh_token"))

    # Pull.

    def _list_page(self, lo: int, hi: int, page_no: int) -> tuple[list[dict[str, Any]], int]:
        # No use_has_next: every page then also reports the total, which shows the list moving.
        doc = self.call(
            LIST_METHOD,
            {
                "start_modified": beijing_text(lo),
                "end_modified": beijing_text(hi),
                "page_no": page_no,
                "page_size": PAGE_SIZE,
                "fields": LIST_FIELDS,
            },
        )
        body = doc.get("trades_sold_increment_get_response")
        if not isinstance(body, dict):
            raise MalformedPayload(f"taobao {LIST_METHOD} answer has no response object")
        total = whole_number(body.get("total_results", 0), "total_results")
        trades = (body.get("trades") or {}).get("trade") or []
        if not isinstance(trades, list):
            raise MalformedPayload(f"taobao {LIST_METHOD} trades is not a list")
        return trades, total

    def push_shipment(self, push: ShipmentPush) -> ShipmentResult:
        return china_shipments.push(self, china_shipments.TAOBAO, push)

    def push_listings(self, pushes: Sequence[ListingPush]) -> list[ListingResult]:
        """One gateway call per listing (see :mod:`.china_listings`)."""
        return china_listings.push(self, china_listings.TAOBAO, pushes)

    def fetch_page(self, start: datetime, end: datetime, token: str | None) -> FetchedPage:
        trades, next_token = self._walk.step(start, end, token)
        orders = []
        for trade in trades:
            full = self._fullinfo(str(required(trade, "tid", "trade")))
            if full is not None:
                orders.append(self.normalize(full))
        return FetchedPage(orders=orders, next_token=next_token)

    def _fullinfo(self, tid: str) -> dict[str, Any] | None:
        try:
            doc = self.call(FULLINFO_METHOD, {"tid": tid, "fields": TRADE_FIELDS})
        except TopError as exc:
            if exc.sub_code in TRADE_NOT_FOUND_SUB_CODES:
                return None
            raise
        body = doc.get("trade_fullinfo_get_response")
        trade = body.get("trade") if isinstance(body, dict) else None
        if not isinstance(trade, dict):
            raise MalformedPayload(f"taobao {FULLINFO_METHOD} answer has no trade")
        return trade

    def fetch_orders(self, external_ids: Sequence[str]) -> list[NormalizedOrder]:
        orders = []
        for tid in dict.fromkeys(str(i).strip() for i in external_ids):
            # A trade id is a number; anything else cannot name a trade of this marketplace.
            if not tid.isdigit():
                continue
            full = self._fullinfo(tid)
            if full is not None:
                orders.append(self.normalize(full))
        return orders

    # Normalization.

    @staticmethod
    def normalize(raw: dict[str, Any]) -> NormalizedOrder:
        tid = str(required(raw, "tid", "trade"))
        raw_status = str(required(raw, "status", "trade"))
        created = parse_beijing(required(raw, "created", "trade"), "created")
        modified = parse_beijing(required(raw, "modified", "trade"), "modified")
        total = minor_units(required(raw, "payment", "trade"), CURRENCY, "payment")
        sub_orders = _sub_orders(raw)
        lines = [_line(order) for order in sub_orders]
        refunds = [
            _refund(order, modified)
            for order in sub_orders
            if str(order.get("refund_status") or "") == REFUND_SUCCESS
        ]
        status = STATUS_MAP.get(raw_status, OrderStatus.pending)
        if refunds:
            fully = all(_fully_refunded(order) for order in sub_orders)
            refunded = sum(refund.amount_minor for refund in refunds)
            status = (
                OrderStatus.refunded
                if fully or (total and refunded >= total)
                else OrderStatus.partially_refunded
            )
        return NormalizedOrder(
            external_id=tid,
            status=status,
            channel_status=raw_status,
            currency=CURRENCY,
            total_minor=total,
            subtotal_minor=minor_units(raw.get("total_fee"), CURRENCY, "total_fee"),
            discount_minor=minor_units(raw.get("discount_fee"), CURRENCY, "discount_fee"),
            shipping_minor=minor_units(raw.get("post_fee"), CURRENCY, "post_fee"),
            tax_minor=0,
            placed_at=created,
            source_updated_at=modified,
            paid_at=optional_beijing(raw.get("pay_time"), "pay_time"),
            source_offset_minutes=BEIJING_OFFSET_MINUTES,
            shipping_address=_address(raw),
            # Name, phone and street come encrypted: no check here can read them.
            receiver_encrypted=True,
            lines=lines,
            refunds=refunds,
            raw=raw,
        )


def _sub_orders(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    orders = raw.get("orders")
    if orders is None or orders == "":
        return []
    if isinstance(orders, dict):
        orders = orders.get("order") or []
    if not isinstance(orders, list) or not all(isinstance(o, dict) for o in orders):
        raise MalformedPayload("trade orders is not a list of sub-orders")
    return orders


def _line(order: Mapping[str, Any]) -> NormalizedLine:
    where = "sub-order"
    sku = text_or_none(order.get("outer_sku_id")) or text_or_none(order.get("num_iid")) or ""
    return NormalizedLine(
        external_id=str(required(order, "oid", where)),
        sku=sku,
        title=str(order.get("title") or ""),
        quantity=whole_number(required(order, "num", where), "num"),
        unit_price_minor=minor_units(required(order, "price", where), CURRENCY, "price"),
        discount_minor=minor_units(order.get("discount_fee"), CURRENCY, "discount_fee"),
    )


def _fully_refunded(order: Mapping[str, Any]) -> bool:
    if str(order.get("refund_status") or "") != REFUND_SUCCESS:
        return False
    fee = order.get("refund_fee")
    if fee is None or fee == "":
        return True
    paid = order.get("payment")
    if paid is None or paid == "":
        return True
    return minor_units(fee, CURRENCY, "refund_fee") >= minor_units(paid, CURRENCY, "payment")


def _refund(order: Mapping[str, Any], trade_modified: datetime) -> NormalizedRefund:
    where = "sub-order"
    oid = str(required(order, "oid", where))
    fee = order.get("refund_fee")
    amount_field = "refund_fee" if fee not in (None, "") else "payment"
    amount = minor_units(order.get(amount_field), CURRENCY, amount_field)
    when = optional_beijing(order.get("end_time"), "end_time") or optional_beijing(
        order.get("modified"), "modified"
    )
    sku = text_or_none(order.get("outer_sku_id")) or text_or_none(order.get("num_iid")) or ""
    return NormalizedRefund(
        external_id=str(order.get("refund_id") or oid),
        amount_minor=amount,
        refunded_at=when or trade_modified,
        lines=[
            {
                "sku": sku,
                "quantity": whole_number(order.get("num") or 0, "num"),
                "amount_minor": amount,
            }
        ],
    )


def _address(raw: Mapping[str, Any]) -> Address | None:
    # The receiver's name, mobile and street come encrypted: kept exactly as sent.
    return receiver_address(
        Address(
            name=opaque(raw.get("receiver_name")),
            phone=opaque(raw.get("receiver_mobile")),
            country="CN",
            province=opaque(raw.get("receiver_state")),
            city=opaque(raw.get("receiver_city")),
            district=opaque(raw.get("receiver_district")),
            address1=opaque(raw.get("receiver_address")),
            postal_code=opaque(raw.get("receiver_zip")),
        )
    )
