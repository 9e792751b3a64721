"""JD (JOS): ``jingdong.pop.order.search`` pulled by modification time through JD's gateway.

Every call is a form POST to one gateway endpoint naming the method, signed with the app's
secret (upper-hex MD5 over the sorted parameters); the business parameters travel as one compact
JSON string, ``360buy_param_json``. JD answers errors with HTTP 200 and an ``error_response``:
code 67 is flow control (waited out and retried here, bounded), code 19 an access token JD no
longer accepts (refreshed once through the OAuth endpoint, then the shop needs re-authorising).

Times on the wire are Beijing time without an offset; money is yuan strings. Consignee fields
(name, phone, full address) arrive encrypted and are kept exactly as JD sent them: decrypting
them is JD's own service, see :func:`decrypt_receiver`. JD pushes through JMQ, not HTTP, so this
connector only pulls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from daiyun.connectors.channels import china_listings, china_messages, china_shipments
from daiyun.connectors.channels.base import (
    FetchedPage,
    ShopAccess,
    minor_units,
    required,
    text_or_none,
)
from daiyun.connectors.channels.china import (
    FLOW_CONTROL_ATTEMPTS,
    Answer,
    ForwardPages,
    GatewayConnector,
    json_answer,
    param_json,
    sign,
)
from daiyun.connectors.channels.china_wire import (
    BEIJING_OFFSET_MINUTES,
    CURRENCY,
    beijing_now,
    beijing_text,
    ciphertext,
    parse_beijing,
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
    OrderStatus,
)

API_HOST = "https://api.jd.com"
# JD issues and refreshes tokens on its OAuth host, not the API gateway (UNCONFIRMED host).
# A shop with api_base_url set (the sandbox) reaches both under that base.
OAUTH_HOST = "https://open-oauth.jd.com"
GATEWAY_PATH = "/routerjson"
REFRESH_PATH = "/oauth2/refresh_token"
API_VERSION = "2.0"
SIGN_METHOD = "md5"

SEARCH_METHOD = "jingdong.pop.order.search"
# JD's own spelling of "response".
SEARCH_RESPONSE = "jingdong_pop_order_search_responce"
SEARCH_RESULT = "searchorderinfo_result"
# The search requires the states to return; these are all a seller's live and closed orders.
ORDER_STATES = (
    "WAIT_SELLER_STOCK_OUT",
    "WAIT_GOODS_RECEIVE_CONFIRM",
    "FINISHED_L",
    "TRADE_CANCELED",
    "LOCKED",
)
# Only the fields the normalizer reads.
OPTIONAL_FIELDS = (
    "orderId",
    "orderState",
    "orderTotalPrice",
    "orderSellerPrice",
    "orderPayment",
    "freightPrice",
    "sellerDiscount",
    "orderStartTime",
    "paymentConfirmTime",
    "modified",
    "consigneeInfo",
    "itemInfoList",
)
SORT_ASCENDING = "1"
DATE_TYPE_MODIFIED = "1"
FIRST_PAGE = 1
# The largest page JD serves (UNCONFIRMED).
PAGE_SIZE = 50
PAGES = ForwardPages("jd", FIRST_PAGE, PAGE_SIZE)
next_page = PAGES.next_page
# JD refuses a search whose modification-time range is wider than one month (UNCONFIRMED: read
# as 30 days). The pull asks for far less: a day's page walk is cheap to redo after a failure.
SEARCH_SPAN_LIMIT = timedelta(days=30)
PULL_WINDOW = timedelta(days=1)
# How far back the search reaches (UNCONFIRMED).
HISTORY = timedelta(days=365)
# JD refuses a request whose timestamp is further than this from its own clock; an error answer
# from a server whose clock is that far from ours says so.
TIMESTAMP_SKEW_LIMIT = timedelta(minutes=6)
# Whether JD's end_date is inclusive (UNCONFIRMED). The sync engine's windows are half-open,
# so an inclusive end is sent as the last whole second before the window's end.
END_DATE_INCLUSIVE = True

TOKEN_INVALID_CODES = frozenset({"19"})
SIGN_ERROR_CODES = frozenset({"8"})
THROTTLE_CODES = frozenset({"67"})
# Flow-control answers to one call before the run is given back to the scheduler, and the first
# wait (doubled per answer, capped by the client's max_backoff).
THROTTLE_ATTEMPTS = FLOW_CONTROL_ATTEMPTS
THROTTLE_BASE_SECONDS = 1.0

# LOCKED: JD holds the order while a cancellation or after-sales request is open; it must not
# ship yet but is not cancelled either. It maps to pending rather than on_hold, because on_hold
# is the agency's own review hold in this platform and a channel-side lock must not pose as one.
STATUS_MAP: dict[str, OrderStatus] = {
    "WAIT_SELLER_STOCK_OUT": OrderStatus.paid,
    "WAIT_GOODS_RECEIVE_CONFIRM": OrderStatus.shipped,
    "FINISHED_L": OrderStatus.delivered,
    "TRADE_CANCELED": OrderStatus.cancelled,
    "LOCKED": OrderStatus.pending,
}


def sign_request(params: Mapping[str, str], app_secret: str) -> str:
    """JD's signature: upper-hex MD5(secret + name1value1name2value2... + secret).

    Every parameter but ``sign`` takes part (``360buy_param_json`` included), sorted by name.
    """
    return sign(params, app_secret, SIGN_METHOD)


def search_dates(start: datetime, end: datetime) -> tuple[str, str] | None:
    """``start_date``/``end_date`` covering the whole seconds of ``[start, end)``, or None.

    JD compares modification times to the second: an order modified exactly at ``end`` belongs
    to the next window, not this one, so an adjacent window never fetches it twice.
    """
    bounds = search_bounds(start, end, end_inclusive=END_DATE_INCLUSIVE)
    return None if bounds is None else (beijing_text(bounds[0]), beijing_text(bounds[1]))


def decrypt_receiver(credentials: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, str]:
    """Where decrypting consignee fields (``fullname``, ``mobile``, ``fullAddress``) plugs in.

    JD decrypts them only through its own encryption SDK and key service, for an app JD has
    approved for it, on a server JD has whitelisted. Until the agency has that access the
    platform keeps the ciphertext as JD sent it, and this hook refuses.
    """
    raise NotImplementedError(
        "JD consignee fields can only be decrypted through JD's encryption SDK by an app JD has "
        "approved for it; this platform keeps them encrypted"
    )


class JdConnector(GatewayConnector):
    channel: ClassVar[str] = "jd"
    outbound: ClassVar[frozenset[str]] = frozenset({LISTINGS, SHIPMENTS, MESSAGES})
    carrier_codes: ClassVar[dict[str, str]] = dict(china_shipments.JD.carriers)
    credential_fields: ClassVar[tuple[str, ...]] = (
        "app_key",
        "app_secret",
        "access_token",
        "refresh_token",
    )
    webhook_secret_field: ClassVar[str | None] = None
    max_window: ClassVar[timedelta] = PULL_WINDOW
    lag: ClassVar[timedelta] = timedelta(minutes=5)
    overlap: ClassVar[timedelta] = timedelta(minutes=5)
    history: ClassVar[timedelta] = HISTORY
    flow_control_codes: ClassVar[frozenset[int | str]] = THROTTLE_CODES
    # The JOS gateway and the OAuth host that renews tokens.
    official_hosts: ClassVar[tuple[str, ...]] = ("api.jd.com", "open-oauth.jd.com")
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
        if not isinstance(value, str) or not value:
            raise ConnectorError(f"jd shop has no {name}")
        return value

    def _url(self, host: str, path: str) -> str:
        return (self.shop.api_base_url or host).rstrip("/") + path

    # The gateway.

    def _send(self, method: str, business: Mapping[str, Any], access_token: str | None) -> Answer:
        params = {
            "method": method,
            "app_key": self._credential("app_key"),
            "access_token": access_token or "",
            "timestamp": beijing_now(),
            "v": API_VERSION,
            "sign_method": SIGN_METHOD,
            "360buy_param_json": param_json(business),
        }
        params["sign"] = sign_request(params, self._credential("app_secret"))
        response = self.http.request("POST", self._url(API_HOST, GATEWAY_PATH), data=params)
        doc = json_answer(response, self.channel, method, _clock_note)
        error = doc.get("error_response")
        if error is None:
            return Answer(doc)
        if not isinstance(error, dict):
            raise MalformedPayload(f"jd {method} answered a malformed error_response")
        return Answer(
            error,
            failed=True,
            code=str(error.get("code") or ""),
            text=excerpt(error.get("en_desc") or error.get("zh_desc") or ""),
            hint=_clock_note(response),
        )

    def _renew_token(self) -> None:
        response = self.http.request(
            "POST",
            self._url(OAUTH_HOST, REFRESH_PATH),
            params={
                "app_key": self._credential("app_key"),
                "app_secret": self._credential("app_secret"),
                "grant_type": "refresh_token",
                "refresh_token": self._refresh_token,
            },
        )
        try:
            doc = response.json()
        except ValueError:
            doc = None
        token = doc.get("access_token") if isinstance(doc, dict) else None
        if response.status_code == 200 and isinstance(token, str) and token:
            refresh = doc.get("refresh_token") if isinstance(doc, dict) else None
            self._keep_tokens(token, refresh)
            return
        reason = ""
        if isinstance(doc, dict):
            reason = " ".join(
                excerpt(doc[key]) for key in ("error", "code", "msg") if doc.get(key) is not None
            )
        text = f"jd refused to refresh the access token: HTTP {response.status_code} {reason}"
        raise ReauthorizationNeeded(text.strip())

    def fetch_messages(self, since: datetime) -> list[BuyerMessage]:
        return china_messages.fetch(self, china_messages.JD, since)

    def send_message(self, reply: MessageReply) -> str:
        return china_messages.send(self, china_messages.JD, reply)

    def push_shipment(self, push: ShipmentPush) -> ShipmentResult:
        return china_shipments.push(self, china_shipments.JD, push)

    def push_listings(self, pushes: Sequence[ListingPush]) -> list[ListingResult]:
        """One gateway call per listing (see :mod:`.china_listings`)."""
        return china_listings.push(self, china_listings.JD, pushes)

    # The pull.

    def fetch_page(self, start: datetime, end: datetime, token: str | None) -> FetchedPage:
        dates = search_dates(start, end)
        if dates is None:
            return FetchedPage(orders=[])
        if end - start > SEARCH_SPAN_LIMIT:
            raise ConnectorError(f"jd searches at most {SEARCH_SPAN_LIMIT.days} days at once")
        page, seen_total = PAGES.read_token(token)
        business = {
            "start_date": dates[0],
            "end_date": dates[1],
            "order_state": ",".join(ORDER_STATES),
            "optional_fields": ",".join(OPTIONAL_FIELDS),
            "page": str(page),
            "page_size": str(PAGE_SIZE),
            "sortType": SORT_ASCENDING,
            "dateType": DATE_TYPE_MODIFIED,
        }
        doc = self.call(SEARCH_METHOD, business)
        result = _search_result(doc)
        orders = result.get("orderInfoList") or []
        if not isinstance(orders, list):
            raise MalformedPayload("jd search result has no orderInfoList list")
        total = whole_number(result.get("orderTotal") or 0, "orderTotal", allow_negative=False)
        return FetchedPage(
            orders=[self.normalize(order) for order in orders],
            next_token=PAGES.token_after(page, total, seen_total, len(orders)),
        )

    @staticmethod
    def normalize(raw: dict[str, Any]) -> NormalizedOrder:
        if not isinstance(raw, dict):
            raise MalformedPayload("jd order is not an object")
        order_id = str(required(raw, "orderId"))
        raw_state = str(required(raw, "orderState"))
        items = raw.get("itemInfoList") or []
        if not isinstance(items, list):
            raise MalformedPayload("itemInfoList is not a list")
        consignee = raw.get("consigneeInfo")
        address = _address(consignee) if isinstance(consignee, dict) and consignee else None
        return NormalizedOrder(
            receiver_encrypted=True,
            external_id=order_id,
            status=STATUS_MAP.get(raw_state, OrderStatus.pending),
            channel_status=raw_state,
            currency=CURRENCY,
            total_minor=_yuan(required(raw, "orderPayment"), "orderPayment"),
            subtotal_minor=_yuan(raw.get("orderTotalPrice"), "orderTotalPrice"),
            discount_minor=_yuan(raw.get("sellerDiscount"), "sellerDiscount"),
            shipping_minor=_yuan(raw.get("freightPrice"), "freightPrice"),
            tax_minor=0,
            placed_at=parse_beijing(required(raw, "orderStartTime"), "orderStartTime"),
            source_updated_at=parse_beijing(required(raw, "modified"), "modified"),
            paid_at=_paid_at(raw.get("paymentConfirmTime")),
            source_offset_minutes=BEIJING_OFFSET_MINUTES,
            # JD names no buyer apart from the (encrypted) consignee in the address.
            buyer_name=None,
            buyer_email=None,
            buyer_phone=None,
            shipping_address=address,
            lines=[_line(item) for item in items],
            raw=raw,
        )


def _search_result(doc: Mapping[str, Any]) -> dict[str, Any]:
    answer = doc.get(SEARCH_RESPONSE)
    if not isinstance(answer, dict):
        raise MalformedPayload(f"jd search answer has no {SEARCH_RESPONSE}")
    code = answer.get("code")
    if code is not None and str(code) != "0":
        raise ConnectorError(f"jd search answered code {code}")
    result = answer.get(SEARCH_RESULT)
    if not isinstance(result, dict):
        raise MalformedPayload(f"jd search answer has no {SEARCH_RESULT}")
    api_result = result.get("apiResult")
    if isinstance(api_result, dict) and api_result.get("success") is False:
        detail = str(api_result.get("englishErrorMsg") or api_result.get("chineseErrorMsg") or "")
        raise ConnectorError(f"jd search failed: {excerpt(detail)}")
    return result


def _clock_note(response: httpx.Response) -> str:
    """A hint when the server's clock is further from ours than JD tolerates, else ""."""
    value = response.headers.get("Date")
    if not value:
        return ""
    try:
        server = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return ""
    if server.tzinfo is None:
        server = server.replace(tzinfo=UTC)
    skew = server - datetime.now(UTC)
    if abs(skew) <= TIMESTAMP_SKEW_LIMIT:
        return ""
    return (
        f" (the server's clock is {skew.total_seconds():+.0f} s from ours; JD refuses "
        f"timestamps more than {TIMESTAMP_SKEW_LIMIT.total_seconds() / 60:.0f} minutes off)"
    )


def _yuan(value: Any, name: str) -> int:
    return minor_units(value, CURRENCY, name)


def _paid_at(value: Any) -> datetime | None:
    """The payment time; absent, empty or JD's year-one placeholder before payment: None."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.startswith("0"):
        return None
    return parse_beijing(value, "paymentConfirmTime")


def _address(consignee: dict[str, Any]) -> Address:
    return Address(
        name=ciphertext(consignee.get("fullname"), "consignee"),
        phone=ciphertext(consignee.get("mobile"), "consignee"),
        country="CN",
        province=text_or_none(consignee.get("province")),
        city=text_or_none(consignee.get("city")),
        district=text_or_none(consignee.get("county")),
        address1=ciphertext(consignee.get("fullAddress"), "consignee"),
    )


def _line(item: Any) -> NormalizedLine:
    where = "itemInfoList[]"
    if not isinstance(item, dict):
        raise MalformedPayload(f"{where} is not an object")
    sku_id = str(required(item, "skuId", where))
    return NormalizedLine(
        external_id=sku_id,
        # The seller's own SKU when set, else JD's.
        sku=str(item.get("outerSkuId") or sku_id),
        title=str(item.get("skuName") or ""),
        quantity=whole_number(
            required(item, "itemTotal", where), f"{where} itemTotal", allow_negative=False
        ),
        # jdPrice is the price of one unit.
        unit_price_minor=_yuan(required(item, "jdPrice", where), f"{where} jdPrice"),
    )
