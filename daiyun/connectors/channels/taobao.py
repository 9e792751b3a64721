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

import hashlib
import hmac
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
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
from daiyun.connectors.http import BACKOFF_BASE, RETRY_AFTER_JITTER, ShopHttp, rate_bucket
from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
    OrderStatus,
)

log = structlog.get_logger("daiyun.connectors.taobao")

# Marketplace times are Beijing time: UTC+8 all year round (China keeps no daylight saving).
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
BEIJING_OFFSET_MINUTES = 480
WIRE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CURRENCY = "CNY"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

GATEWAY_BASE = "https://eco.taobao.com"
GATEWAY_PATH = "/router/rest"
# UNCONFIRMED: the OAuth host that renews a session with a refresh token; with an api_base_url
# the endpoint is ``{api_base_url}/token``.
OAUTH_TOKEN_URL = "https://oauth.taobao.com/token"
TOKEN_PATH = "/token"
API_VERSION = "2.0"
SIGN_METHODS = ("md5", "hmac", "hmac-sha256")
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

# Error codes TOP answers with HTTP 200 inside ``error_response``.
FLOW_CONTROL_CODES = frozenset({7})
SESSION_INVALID_CODES = frozenset({27})
# UNCONFIRMED: the sub-code fullinfo answers for a trade that does not exist (or not any more).
TRADE_NOT_FOUND_SUB_CODES = frozenset({"isv.trade-not-exist"})
# OAuth errors only a person re-authorising the app can fix.
REAUTHORIZE_OAUTH_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})
# How many flow-control answers one call waits out before giving the run back.
MAX_FLOW_CONTROL_RETRIES = 5
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

_random = random.SystemRandom()


# Signing and wire formats.


def sign(params: Mapping[str, object], secret: str, method: str = DEFAULT_SIGN_METHOD) -> str:
    """TOP's request signature: upper-case hex over the sorted, non-empty ``name + value`` pairs.

    ``md5`` hashes ``secret + s + secret``; ``hmac`` is HMAC-MD5 and ``hmac-sha256`` HMAC-SHA256,
    both keyed with the secret over ``s``. ``sign`` itself never takes part.
    """
    pairs = sorted(
        (
            (str(name), str(value))
            for name, value in params.items()
            if name != "sign" and value is not None and value != ""
        ),
        key=lambda pair: pair[0].encode(),
    )
    text = "".join(name + value for name, value in pairs)
    data, key = text.encode(), secret.encode()
    if method == "md5":
        return hashlib.md5(key + data + key).hexdigest().upper()  # noqa: S324 (TOP's scheme)
    if method == "hmac":
        return hmac.new(key, data, hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, data, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown TOP sign_method {method!r} (one of {', '.join(SIGN_METHODS)})")


def whole_seconds(moment: datetime) -> int:
    """A time as Unix seconds, rounded up: windows ``[a, b)`` become ``[⌈a⌉, ⌈b⌉)`` on the
    marketplace's whole-second clock, so consecutive windows still meet without a gap."""
    if moment.tzinfo is None:
        raise ValueError("window bounds must be aware datetimes")
    delta = moment - EPOCH
    return delta.days * 86_400 + delta.seconds + (1 if delta.microseconds else 0)


def beijing_text(seconds: int) -> str:
    """Unix seconds as TOP's ``yyyy-MM-dd HH:mm:ss`` in Beijing time."""
    return (EPOCH + timedelta(seconds=seconds)).astimezone(BEIJING).strftime(WIRE_TIME_FORMAT)


def beijing_now() -> str:
    return datetime.now(BEIJING).strftime(WIRE_TIME_FORMAT)


def parse_beijing(value: Any, name: str) -> datetime:
    """A ``yyyy-MM-dd HH:mm:ss`` Beijing time from the wire, as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{name} is missing or not a time")
    try:
        local = datetime.strptime(value.strip(), WIRE_TIME_FORMAT)
    except ValueError as exc:
        raise MalformedPayload(f"{name} is not a yyyy-MM-dd HH:mm:ss time: {value!r}") from exc
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def optional_beijing(value: Any, name: str) -> datetime | None:
    return None if value is None or value == "" else parse_beijing(value, name)


def opaque(value: Any) -> str | None:
    """An encrypted field exactly as sent (no trimming, no decoding); absent as None."""
    if value is None or value == "":
        return None
    return str(value)


def whole_number(value: Any, name: str) -> int:
    """An integer that some answers send as a digit string."""
    if isinstance(value, bool):
        raise MalformedPayload(f"{name} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise MalformedPayload(f"{name} is not an integer")


def flow_control_wait(message: str | None, attempt: int, cap: float) -> float:
    """Seconds to wait after a flow-control answer: what the marketplace said, else a backoff."""
    if message:
        found = _BAN_SECONDS.search(message)
        if found:
            return float(found.group(1))
    return min(cap, BACKOFF_BASE * 2 ** (attempt - 1))


def defer_shop(http: ShopHttp, seconds: float) -> None:
    """Hold every client of this shop back for ``seconds`` (plus jitter) on the shared bucket;
    the next request waits there, or gives up if the wait is beyond the client's bound."""
    rate_bucket(http.key).defer(http.clock() + seconds + _random.uniform(*RETRY_AFTER_JITTER))


def decrypt_receiver(credentials: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, str]:
    """Decrypt a trade's receiver fields (name, mobile, address): the hook for the real thing.

    Decryption goes through the marketplace's own decrypt API with the seller's session and is
    only granted to approved apps; this deployment cannot reach it, so the fields stay encrypted.
    """
    raise NotImplementedError(
        f"taobao receiver fields ({len(fields)}) stay encrypted: decrypting them needs "
        f"{DECRYPT_METHOD}, which this deployment cannot reach"
    )


# The backwards walk through a newest-first list.

ListPage = Callable[[int, int, int], tuple[list[dict[str, Any]], int]]


@dataclass
class WalkState:
    """Where a walk through one window stands; travels as the page token between calls."""

    slice_start: int
    slice_end: int
    # Total the list reported when last asked; None until the slice's first request.
    total: int | None = None
    # Positions [0, remaining) of the newest-first list are still unread.
    remaining: int = 0
    # Keys read on the previous page: a list that shrank moves one of them onto the next page.
    seen: list[str] = field(default_factory=list)
    # Pages of this slice read again because the list grew (bounded by MAX_REREADS).
    rereads: int = 0

    def encode(self) -> str:
        return json.dumps(
            {
                "s": self.slice_start,
                "e": self.slice_end,
                "t": self.total,
                "r": self.remaining,
                "k": self.seen,
                "n": self.rereads,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, token: str) -> WalkState:
        try:
            doc = json.loads(token)
            state = cls(
                slice_start=int(doc["s"]),
                slice_end=int(doc["e"]),
                total=None if doc["t"] is None else int(doc["t"]),
                remaining=int(doc["r"]),
                seen=[str(key) for key in doc["k"]],
                rereads=int(doc.get("n", 0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConnectorError("page token is not one this connector issued") from exc
        return state


class DescendingWalk:
    """Read a newest-first, page-numbered list of one window from its last page back to page 1.

    ``list_page(slice_start, slice_end, page_no)`` returns one page of the items modified in the
    slice (Unix seconds) and the list's current total. The walk splits the window into slices of
    ``slice_seconds``, asks each slice's total first, then reads the page holding the newest
    unread position. Between two requests the list can change:

    - an item leaving the slice (modified again) shifts older items towards page 1: they are
      read again, and the previous page's keys drop the repeat;
    - an item entering at the newest end (the total grew) shifts older ones towards the last
      page: the unread boundary moves by as much, and the page holding it is read instead.

    An entry and an exit between the same two requests cancel out in the total and can hide one
    shift; the pull's overlap and the pushes make up for that rare case. Items are kept only if
    their stamp lies in ``[slice_start, slice_end)``: the marketplace's window is inclusive.
    """

    # Pages read again in one slice because the list grew at its newest end while it was read.
    # Past that, a list that keeps growing is read on without chasing it: entries into a window
    # already behind the marketplace's clock are rare, and pushes name what a walk misses.
    MAX_REREADS = 10

    def __init__(
        self,
        list_page: ListPage,
        *,
        key: Callable[[dict[str, Any]], str],
        stamp: Callable[[dict[str, Any]], int],
        page_size: int,
        slice_seconds: int,
    ) -> None:
        if page_size < 1 or slice_seconds < 1:
            raise ValueError("page_size and slice_seconds must be positive")
        self.list_page = list_page
        self.key = key
        self.stamp = stamp
        self.page_size = page_size
        self.slice_seconds = slice_seconds

    def first(self, start: datetime, end: datetime) -> WalkState | None:
        lo, hi = whole_seconds(start), whole_seconds(end)
        if lo >= hi:
            return None
        return WalkState(lo, min(lo + self.slice_seconds, hi))

    def step(
        self, start: datetime, end: datetime, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The next non-empty page of new items in ``[start, end)`` and the token after it."""
        window_end = whole_seconds(end)
        state = WalkState.decode(token) if token else self.first(start, end)
        while state is not None:
            items, state = self._read(state, window_end)
            if items:
                return items, state.encode() if state else None
        return [], None

    def _page_of(self, position: int) -> int:
        return position // self.page_size + 1

    def _read(
        self, state: WalkState, window_end: int
    ) -> tuple[list[dict[str, Any]], WalkState | None]:
        lo, hi = state.slice_start, state.slice_end
        if state.total is None:
            items, total = self.list_page(lo, hi, 1)
            if total <= self.page_size:
                # Page 1 is the whole slice.
                return self._keep(items, state), self._after(state, 0, total, items, window_end)
            state.total = state.remaining = total
        page_no = self._page_of(state.remaining - 1)
        while True:
            items, total = self.list_page(lo, hi, page_no)
            shift = total - (state.total or 0)
            state.total = total
            if shift > 0:
                state.remaining += shift
            state.remaining = min(state.remaining, total)
            if state.remaining <= 0:
                break
            wanted = self._page_of(state.remaining - 1)
            if wanted == page_no:
                break
            if wanted > page_no:
                # The unread boundary moved onto a page already read: read that one again,
                # within the slice's budget, so a list that keeps growing cannot hold the walk.
                if state.rereads >= self.MAX_REREADS:
                    log.warning(
                        "marketplace_list_kept_growing",
                        slice_start=lo,
                        slice_end=hi,
                        rereads=state.rereads,
                    )
                    break
                state.rereads += 1
            page_no = wanted
        remaining = (page_no - 1) * self.page_size if state.remaining > 0 else 0
        return self._keep(items, state), self._after(state, remaining, total, items, window_end)

    def _keep(self, items: list[dict[str, Any]], state: WalkState) -> list[dict[str, Any]]:
        seen = set(state.seen)
        kept = []
        for item in items:
            key = self.key(item)
            if key in seen:
                continue
            seen.add(key)
            if state.slice_start <= self.stamp(item) < state.slice_end:
                kept.append(item)
        return kept

    def _after(
        self,
        state: WalkState,
        remaining: int,
        total: int,
        items: list[dict[str, Any]],
        window_end: int,
    ) -> WalkState | None:
        if remaining > 0:
            return WalkState(
                state.slice_start,
                state.slice_end,
                total=total,
                remaining=remaining,
                seen=[self.key(item) for item in items],
                rereads=state.rereads,
            )
        if state.slice_end >= window_end:
            return None
        return WalkState(state.slice_end, min(state.slice_end + self.slice_seconds, window_end))


# The connector.


def _error_text(error: Mapping[str, Any]) -> str:
    parts = [f"code {error.get('code')}"]
    for name in ("msg", "sub_code", "sub_msg"):
        if error.get(name):
            parts.append(str(error[name])[:200])
    return ", ".join(parts)


def _code(error: Mapping[str, Any]) -> int | None:
    """The error code, which TOP sends as a number (and some gateways as a digit string)."""
    value = error.get("code")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


class TopError(ConnectorError):
    """TOP answered a call with an ``error_response`` (other than those handled on the way)."""

    def __init__(self, method: str, error: Mapping[str, Any]) -> None:
        super().__init__(f"taobao {method} failed: {_error_text(error)}")
        self.code = _code(error)
        self.sub_code = str(error.get("sub_code") or "")


class TaobaoConnector(Connector):
    channel: ClassVar[str] = "taobao"
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

    def __init__(self, shop: ShopAccess, http: ShopHttp) -> None:
        super().__init__(shop, http)
        credentials = shop.credentials
        self._session = str(credentials.get("session") or "")
        self._refresh_token = str(credentials.get("refresh_token") or "")
        self._sign_method = str(credentials.get("sign_method") or DEFAULT_SIGN_METHOD)
        if self._sign_method not in SIGN_METHODS:
            raise ConnectorError(f"taobao sign_method {self._sign_method!r} is not supported")
        self.refreshed_credentials: dict[str, Any] | None = None
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

    def call(self, method: str, business: Mapping[str, str | int]) -> dict[str, Any]:
        """One signed gateway call; waits out flow control, renews a dead session once."""
        credentials = self.shop.credentials
        renewed = False
        throttled = 0
        while True:
            params: dict[str, str] = {
                "method": method,
                "app_key": str(credentials["app_key"]),
                "session": self._session,
                "timestamp": beijing_now(),
                "format": "json",
                "v": API_VERSION,
                "sign_method": self._sign_method,
            }
            params.update({name: str(value) for name, value in business.items()})
            params["sign"] = sign(params, str(credentials["app_secret"]), self._sign_method)
            response = self.http.request("POST", self._base() + GATEWAY_PATH, data=params)
            doc = self._answer(response, method)
            error = doc.get("error_response")
            if error is None:
                return doc
            if not isinstance(error, dict):
                raise MalformedPayload(f"taobao {method} answered a malformed error_response")
            code = _code(error)
            if code in FLOW_CONTROL_CODES:
                throttled += 1
                if throttled > MAX_FLOW_CONTROL_RETRIES:
                    raise RetriesExhausted(
                        f"taobao {method}: still flow-controlled after {throttled} answers"
                    )
                wait = flow_control_wait(
                    str(error.get("sub_msg") or error.get("msg") or ""),
                    throttled,
                    self.http.max_backoff,
                )
                log.warning(
                    "marketplace_flow_control",
                    shop=self.http.key,
                    method=method,
                    code=code,
                    wait=wait,
                    attempt=throttled,
                )
                defer_shop(self.http, wait)
                continue
            if code in SESSION_INVALID_CODES:
                if renewed:
                    raise ReauthorizationNeeded(
                        f"taobao refused the renewed session: {_error_text(error)}"
                    )
                self._renew_session()
                renewed = True
                continue
            raise TopError(method, error)

    @staticmethod
    def _answer(response: httpx.Response, method: str) -> dict[str, Any]:
        if response.status_code in (401, 403):
            raise ReauthorizationNeeded(f"taobao answered HTTP {response.status_code} to {method}")
        if response.status_code != 200:
            raise ConnectorError(f"taobao answered HTTP {response.status_code} to {method}")
        try:
            doc = response.json()
        except ValueError as exc:
            raise MalformedPayload(f"taobao answer to {method} is not JSON") from exc
        if not isinstance(doc, dict):
            raise MalformedPayload(f"taobao answer to {method} is not an object")
        return doc

    def _renew_session(self) -> None:
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
            error = str(doc.get("error") or "")[:100]
            text = f"taobao token refresh answered HTTP {response.status_code} {error}".strip()
            if error in REAUTHORIZE_OAUTH_ERRORS or response.status_code in (400, 401, 403):
                raise ReauthorizationNeeded(text)
            raise ConnectorError(text)
        session = doc.get("access_token")
        if not isinstance(session, str) or not session:
            raise MalformedPayload("taobao token refresh answer has no access_token")
        refresh_token = doc.get("refresh_token")
        self._session = session
        if isinstance(refresh_token, str) and refresh_token:
            self._refresh_token = refresh_token
        self.refreshed_credentials = {
            "session": self._session,
            "refresh_token": self._refresh_token,
        }
        log.info("marketplace_token_refreshed", shop=self.http.key, channel=self.channel)

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
    address = Address(
        name=opaque(raw.get("receiver_name")),
        phone=opaque(raw.get("receiver_mobile")),
        country="CN",
        province=opaque(raw.get("receiver_state")),
        city=opaque(raw.get("receiver_city")),
        district=opaque(raw.get("receiver_district")),
        address1=opaque(raw.get("receiver_address")),
        postal_code=opaque(raw.get("receiver_zip")),
    )
    if not any((address.name, address.phone, address.address1, address.province, address.city)):
        return None
    return address
