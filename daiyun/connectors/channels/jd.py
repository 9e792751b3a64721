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

import hashlib
import json
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx
import structlog

from daiyun.connectors.channels.base import (
    Connector,
    FetchedPage,
    ShopAccess,
    minor_units,
    required,
    text_or_none,
)
from daiyun.connectors.errors import (
    ConnectorError,
    MalformedPayload,
    ReauthorizationNeeded,
    RetriesExhausted,
)
from daiyun.connectors.http import RETRY_AFTER_JITTER, ShopHttp, rate_bucket
from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedOrder,
    OrderStatus,
)

log = structlog.get_logger("daiyun.connectors.jd")

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
# Flow-control answers waited out per call before giving the run back to the scheduler, and the
# first wait (doubled per answer, capped by the client's max_backoff).
THROTTLE_ATTEMPTS = 6
THROTTLE_BASE_SECONDS = 1.0

CURRENCY = "CNY"
# China keeps UTC+8 all year.
BEIJING = timezone(timedelta(hours=8))
SOURCE_OFFSET_MINUTES = 480
WIRE_TIME = "%Y-%m-%d %H:%M:%S"

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

# Jitter spreads retries of many shops apart; seeded by the OS, unlike a copy in forked workers.
_random = random.SystemRandom()


def sign_request(params: Mapping[str, str], app_secret: str) -> str:
    """JD's signature: upper-hex MD5(secret + name1value1name2value2... + secret).

    Every parameter but ``sign`` takes part (``360buy_param_json`` included), sorted by name.
    """
    text = "".join(name + params[name] for name in sorted(params) if name != "sign")
    # MD5 is JD's scheme, not a choice made here.
    digest = hashlib.md5((app_secret + text + app_secret).encode(), usedforsecurity=False)
    return digest.hexdigest().upper()


def param_json(business: Mapping[str, Any]) -> str:
    """The business parameters as the compact JSON string JD reads from ``360buy_param_json``."""
    return json.dumps(business, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def beijing(moment: datetime) -> str:
    """An aware time in JD's wire format (Beijing time, ``yyyy-MM-dd HH:mm:ss``)."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no defined Beijing time")
    return moment.astimezone(BEIJING).strftime(WIRE_TIME)


def parse_beijing(value: Any, name: str) -> datetime:
    """A JD wire time as an aware UTC datetime; anything else is a malformed payload."""
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{name} is missing or not a time")
    try:
        local = datetime.strptime(value.strip(), WIRE_TIME)
    except ValueError as exc:
        raise MalformedPayload(f"{name} is not a time as yyyy-MM-dd HH:mm:ss: {value!r}") from exc
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def search_dates(start: datetime, end: datetime) -> tuple[str, str] | None:
    """``start_date``/``end_date`` covering the whole seconds of ``[start, end)``, or None.

    JD compares modification times to the second: an order modified exactly at ``end`` belongs
    to the next window, not this one, so an adjacent window never fetches it twice.
    """
    first = _ceil_second(start)
    after = _ceil_second(end)
    last = after - timedelta(seconds=1) if END_DATE_INCLUSIVE else after
    if last < first or (not END_DATE_INCLUSIVE and last == first):
        return None
    return beijing(first), beijing(last)


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


class JdConnector(Connector):
    channel: ClassVar[str] = "jd"
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

    def call(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        """One gateway call's answer, flow control waited out and the token refreshed once."""
        refreshed = False
        throttled = 0
        while True:
            response = self._post(method, business)
            doc = _json(response, method)
            error = _error(doc)
            if error is None:
                return doc
            code, text = error
            if code in THROTTLE_CODES:
                throttled += 1
                if throttled >= THROTTLE_ATTEMPTS:
                    raise RetriesExhausted(
                        f"jd kept answering {method} with flow control ({code}) "
                        f"after {throttled} attempts"
                    )
                _hold_back(self.http, throttled, code)
                continue
            if code in TOKEN_INVALID_CODES:
                if refreshed:
                    raise ReauthorizationNeeded(
                        f"jd refused the access token again after a refresh: {code} {text}"
                    )
                self._refresh()
                refreshed = True
                continue
            what = "signature refused (check app_secret)" if code in SIGN_ERROR_CODES else text
            raise ConnectorError(
                f"jd answered {method} with error {code}: {what}{_clock_note(response)}"
            )

    def _post(self, method: str, business: Mapping[str, Any]) -> httpx.Response:
        params = {
            "method": method,
            "app_key": self._credential("app_key"),
            "access_token": self._access_token,
            "timestamp": beijing(datetime.now(UTC)),
            "v": API_VERSION,
            "sign_method": SIGN_METHOD,
            "360buy_param_json": param_json(business),
        }
        params["sign"] = sign_request(params, self._credential("app_secret"))
        response = self.http.request("POST", self._url(API_HOST, GATEWAY_PATH), data=params)
        if response.status_code in (401, 403):
            raise ReauthorizationNeeded(f"jd answered {method} with HTTP {response.status_code}")
        if response.status_code != 200:
            raise ConnectorError(
                f"jd answered {method} with HTTP {response.status_code}{_clock_note(response)}"
            )
        return response

    def _refresh(self) -> None:
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
            self._access_token = token
            if isinstance(refresh, str) and refresh:
                self._refresh_token = refresh
            self.refreshed_credentials = {
                "access_token": self._access_token,
                "refresh_token": self._refresh_token,
            }
            log.info("marketplace_token_refreshed", shop=self.http.key, channel=self.channel)
            return
        reason = ""
        if isinstance(doc, dict):
            reason = " ".join(
                str(doc[key])[:200] for key in ("error", "code", "msg") if doc.get(key) is not None
            )
        text = f"jd refused to refresh the access token: HTTP {response.status_code} {reason}"
        raise ReauthorizationNeeded(text.strip())

    # The pull.

    def fetch_page(self, start: datetime, end: datetime, token: str | None) -> FetchedPage:
        dates = search_dates(start, end)
        if dates is None:
            return FetchedPage(orders=[])
        if end - start > SEARCH_SPAN_LIMIT:
            raise ConnectorError(f"jd searches at most {SEARCH_SPAN_LIMIT.days} days at once")
        page, seen_total = _parse_token(token)
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
        total = _count(result.get("orderTotal") or 0, "orderTotal")
        following = next_page(page, total, seen_total, len(orders))
        return FetchedPage(
            orders=[self.normalize(order) for order in orders],
            next_token=None if following is None else f"{following}:{total}",
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
            source_offset_minutes=SOURCE_OFFSET_MINUTES,
            # JD names no buyer apart from the (encrypted) consignee in the address.
            buyer_name=None,
            buyer_email=None,
            buyer_phone=None,
            shipping_address=address,
            lines=[_line(item) for item in items],
            raw=raw,
        )


def next_page(page: int, total: int, seen_total: int | None, received: int) -> int | None:
    """The page to ask for after ``page`` (None when the window is done).

    Pages are offsets into the window's orders sorted by modification time. An order modified
    again while the walk goes on leaves the window (its new time is past the window's end), and
    every order behind it moves forward: pages already read would then hide some unread ones.
    The total shrinks when that happens, so the walk steps back far enough to read them.
    """
    if seen_total is not None and total < seen_total:
        frontier = (page - FIRST_PAGE) * PAGE_SIZE
        return FIRST_PAGE + max(0, frontier - (seen_total - total)) // PAGE_SIZE
    if received == 0 or (page - FIRST_PAGE + 1) * PAGE_SIZE >= total:
        return None
    return page + 1


def _parse_token(token: str | None) -> tuple[int, int | None]:
    if token is None:
        return FIRST_PAGE, None
    page, _, total = token.partition(":")
    try:
        return int(page), int(total)
    except ValueError:
        raise ConnectorError(f"not a jd page token: {token!r}") from None


def _ceil_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def _hold_back(http: ShopHttp, attempt: int, code: str) -> None:
    """Hold every client of the shop back after a flow-control answer (bounded, jittered)."""
    delay = min(http.max_backoff, THROTTLE_BASE_SECONDS * 2 ** (attempt - 1))
    delay += _random.uniform(*RETRY_AFTER_JITTER)
    log.warning("marketplace_flow_control", shop=http.key, code=code, delay=round(delay, 2))
    rate_bucket(http.key).defer(http.clock() + delay)


def _json(response: httpx.Response, method: str) -> dict[str, Any]:
    try:
        doc = response.json()
    except ValueError as exc:
        raise MalformedPayload(f"jd answer to {method} is not JSON") from exc
    if not isinstance(doc, dict):
        raise MalformedPayload(f"jd answer to {method} is not an object")
    return doc


def _error(doc: Mapping[str, Any]) -> tuple[str, str] | None:
    """The code and description of an error answer; None for an answer that is not one."""
    error = doc.get("error_response")
    if error is None:
        return None
    if not isinstance(error, dict):
        return "", "malformed error_response"
    code = str(error.get("code") or "")
    text = str(error.get("en_desc") or error.get("zh_desc") or "")[:300]
    return code, text


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
        raise ConnectorError(f"jd search failed: {detail[:300]}")
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


def _count(value: Any, name: str) -> int:
    """A count JD sends as an integer or as a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise MalformedPayload(f"{name} is not a whole number: {value!r}")


def _paid_at(value: Any) -> datetime | None:
    """The payment time; absent, empty or JD's year-one placeholder before payment: None."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.startswith("0"):
        return None
    return parse_beijing(value, "paymentConfirmTime")


def _opaque(value: Any) -> str | None:
    """An encrypted field exactly as sent (never stripped or decoded); empty means absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedPayload("an encrypted consignee field is not a string")
    return value


def _address(consignee: dict[str, Any]) -> Address:
    return Address(
        name=_opaque(consignee.get("fullname")),
        phone=_opaque(consignee.get("mobile")),
        country="CN",
        province=text_or_none(consignee.get("province")),
        city=text_or_none(consignee.get("city")),
        district=text_or_none(consignee.get("county")),
        address1=_opaque(consignee.get("fullAddress")),
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
        quantity=_count(required(item, "itemTotal", where), f"{where} itemTotal"),
        # jdPrice is the price of one unit.
        unit_price_minor=_yuan(required(item, "jdPrice", where), f"{where} jdPrice"),
    )
