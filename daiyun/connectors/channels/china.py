"""What the connectors to the four Chinese marketplaces share: the signed gateway and paging.

Taobao/Tmall (TOP), JD (JOS), Pinduoduo and Douyin Shop are gateway APIs: every request names
its API method, carries the shop's access token and a timestamp and is signed with the app's
secret, and almost every failure comes back with HTTP 200 and an error in the marketplace's own
envelope. Two of those errors are dealt with on the way instead of raised: flow control, waited
out on the shop's shared rate bucket within bounds, and an access token the marketplace no longer
accepts, renewed once per call (after that only a person re-authorising the app can help).
:class:`GatewayConnector` holds that loop; each connector says how one request is sent and its
answer read, which codes mean what, and how its token is renewed.

Lists come in pages: the newest-first ones (TOP, Pinduoduo) are read from their last page back
with :class:`DescendingWalk`, the oldest-first ones (JD, Douyin) forwards with
:class:`ForwardPages`, which steps back when orders leave the window mid-walk. How the four write
times, numbers and receivers on the wire is in :mod:`.china_wire`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx
import structlog

from daiyun.connectors.channels.base import Connector
from daiyun.connectors.channels.china_wire import whole_seconds
from daiyun.connectors.errors import (
    ConnectorError,
    MalformedPayload,
    ReauthorizationNeeded,
    RetriesExhausted,
    excerpt,
)
from daiyun.connectors.http import BACKOFF_BASE, RETRY_AFTER_JITTER, ShopHttp, rate_bucket

log = structlog.get_logger("daiyun.connectors.china")

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")
# Flow-control answers to one request before the run is given back to the scheduler; all but
# the last are waited out.
FLOW_CONTROL_ATTEMPTS = 6

# Jitter spreads retries of many shops apart; seeded by the OS, unlike a copy in forked workers.
_random = random.SystemRandom()


# Signing.


def signing_text(params: Mapping[str, object], *, skip_empty: bool = False) -> str:
    """Every parameter but ``sign`` as ``name + value``, sorted by name in byte order.

    None never takes part; empty values do not either where the marketplace leaves them out.
    """
    pairs = sorted(
        (
            (str(name), str(value))
            for name, value in params.items()
            if name != "sign" and value is not None and (value != "" or not skip_empty)
        ),
        key=lambda pair: pair[0].encode(),
    )
    return "".join(name + value for name, value in pairs)


def sign(
    params: Mapping[str, object], secret: str, method: str = "md5", *, skip_empty: bool = False
) -> str:
    """A gateway request's signature: upper-case hex over :func:`signing_text` ``s``.

    ``md5`` hashes ``secret + s + secret`` (TOP, JD and Pinduoduo); ``hmac`` is HMAC-MD5 and
    ``hmac-sha256`` HMAC-SHA256, both keyed with the secret over ``s`` (TOP's alternatives).
    """
    text = signing_text(params, skip_empty=skip_empty)
    data, key = text.encode(), secret.encode()
    if method == "md5":
        # MD5 is the marketplaces' scheme, not a choice made here.
        return hashlib.md5(key + data + key, usedforsecurity=False).hexdigest().upper()
    if method == "hmac":
        return hmac.new(key, data, hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, data, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown sign_method {method!r} (one of {', '.join(SIGN_METHODS)})")


def param_json(business: Mapping[str, Any]) -> str:
    """Business parameters as one compact JSON string, keys sorted at every depth (JD, Douyin)."""
    return json.dumps(business, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# Answers.


@dataclass(frozen=True)
class Answer:
    """A gateway's answer to one request, as its connector reads it.

    ``doc`` is what a caller reads: the whole answer (TOP, JD, Pinduoduo) or the envelope's data
    (Douyin); for an error answer of TOP, JD and Pinduoduo, the error object as sent. ``code`` is
    the marketplace's code if it sent one that reads, ``text`` the error's description, and
    ``hint`` what an error message should add (JD: a server clock far from ours).
    """

    doc: dict[str, Any]
    failed: bool = False
    code: int | str | None = None
    text: str = ""
    hint: str = ""


def json_answer(
    response: httpx.Response,
    channel: str,
    method: str,
    hint: Callable[[httpx.Response], str] | None = None,
) -> dict[str, Any]:
    """A gateway's HTTP answer as its JSON object.

    401 and 403 mean the marketplace refuses the app or the shop: only re-authorising helps.
    Gateways answer their own errors with HTTP 200, so any other status is a connector error.
    """
    status = response.status_code
    if status in (401, 403):
        raise ReauthorizationNeeded(f"{channel} answered {method} with HTTP {status}")
    if status != 200:
        note = hint(response) if hint is not None else ""
        raise ConnectorError(f"{channel} answered {method} with HTTP {status}{note}")
    try:
        doc = response.json()
    except ValueError as exc:
        raise MalformedPayload(f"{channel} answer to {method} is not JSON") from exc
    if not isinstance(doc, dict):
        raise MalformedPayload(f"{channel} answer to {method} is not an object")
    return doc


def error_code(value: Any) -> int | None:
    """An error code sent as a number (or by some gateways as a digit string); else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def error_texts(error: Mapping[str, Any], text_fields: Sequence[str]) -> str:
    """The non-empty texts of an ``error_response``, each cut short, for a message."""
    return ", ".join(excerpt(error[name]) for name in text_fields if error.get(name))


def error_summary(error: Mapping[str, Any], code_field: str, text_fields: Sequence[str]) -> str:
    """An ``error_response`` in a few words: its code, then its texts."""
    code = f"{code_field} {error.get(code_field)}"
    texts = error_texts(error, text_fields)
    return f"{code}, {texts}" if texts else code


def error_response_answer(
    doc: dict[str, Any], channel: str, method: str, code_field: str, text_fields: Sequence[str]
) -> Answer:
    """An answer that may carry an ``error_response`` (TOP and Pinduoduo), read."""
    error = doc.get("error_response")
    if error is None:
        return Answer(doc)
    if not isinstance(error, dict):
        raise MalformedPayload(f"{channel} {method} answered a malformed error_response")
    code = error_code(error.get(code_field))
    return Answer(error, failed=True, code=code, text=error_texts(error, text_fields))


# Flow control.


def backoff(attempt: int, first: float, cap: float) -> float:
    """The wait after the ``attempt``-th flow-control answer: doubling from ``first``, capped."""
    return min(cap, first * 2 ** (attempt - 1))


def hold_back(http: ShopHttp, seconds: float) -> None:
    """Hold every client of this shop back for ``seconds`` (plus jitter) on the shared bucket;
    the next request waits there, or gives up if the wait is beyond the client's bound."""
    rate_bucket(http.key).defer(http.clock() + seconds + _random.uniform(*RETRY_AFTER_JITTER))


# The gateway.


class GatewayConnector(Connector):
    """A connector to a signed marketplace gateway: flow control and token renewal live here.

    A subclass sends one signed request and reads its answer (:meth:`_send`), renews the shop's
    token (:meth:`_renew_token`, ending in :meth:`_keep_tokens`) and may say what an error answer
    that is neither flow control nor a refused token becomes (:meth:`_refusal`). Each request,
    the one sent again with a renewed token included, may wait out its own flow-control answers.
    """

    # Error codes meaning "slow down" and "this access token is no longer accepted".
    flow_control_codes: ClassVar[frozenset[int | str]]
    token_refused_codes: ClassVar[frozenset[int | str]]
    # Codes of a refused signature: the app secret is wrong, which the error message says.
    sign_refused_codes: ClassVar[frozenset[int | str]] = frozenset()
    # The first flow-control wait, doubled per answer and capped by the client's max_backoff.
    first_backoff: ClassVar[float] = BACKOFF_BASE
    flow_control_attempts: ClassVar[int] = FLOW_CONTROL_ATTEMPTS
    # The access token's name among the shop's credentials (TOP calls it a session).
    token_field: ClassVar[str] = "access_token"

    _access_token: str
    _refresh_token: str

    @abstractmethod
    def _send(self, method: str, business: Mapping[str, Any], access_token: str | None) -> Answer:
        """Send one signed request (``access_token`` None: a call made without one) and read
        its answer, error or not."""

    @abstractmethod
    def _renew_token(self) -> None:
        """Trade the refresh token for a new access token; a refusal needs re-authorising."""

    def _refusal(self, method: str, answer: Answer) -> ConnectorError:
        """The error an error answer becomes when it is neither flow control nor a refused token."""
        what = answer.text
        if answer.code in self.sign_refused_codes:
            what = "signature refused (check app_secret)"
        return ConnectorError(
            f"{self.channel} answered {method} with error {answer.code}: {what}{answer.hint}"
        )

    def _flow_control_wait(self, answer: Answer, attempt: int) -> float:
        """Seconds to hold back after a flow-control answer; most gateways do not say how long."""
        return backoff(attempt, self.first_backoff, self.http.max_backoff)

    def call(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        """One gateway call's document; an error answer raises (see :meth:`answer`)."""
        answer = self.answer(method, business)
        if answer.failed:
            raise self._refusal(method, answer)
        return answer.doc

    def answer(self, method: str, business: Mapping[str, Any]) -> Answer:
        """One call's answer with the shop's token, flow control waited out and a refused token
        renewed once; a token refused again after that needs re-authorising."""
        renewed = False
        while True:
            answer = self.exchange(method, business, self._access_token)
            if not (answer.failed and answer.code in self.token_refused_codes):
                return answer
            if renewed:
                raise ReauthorizationNeeded(
                    f"{self.channel} refused the access token again after a renewal: "
                    f"{answer.code} {answer.text}"
                )
            self._renew_token()
            renewed = True

    def exchange(
        self, method: str, business: Mapping[str, Any], access_token: str | None
    ) -> Answer:
        """Send one signed request until it is not flow-controlled (within bounds); its answer."""
        throttled = 0
        while True:
            answer = self._send(method, business, access_token)
            if not (answer.failed and answer.code in self.flow_control_codes):
                return answer
            throttled += 1
            if throttled >= self.flow_control_attempts:
                raise RetriesExhausted(
                    f"{self.channel} kept answering {method} with flow control ({answer.code}) "
                    f"after {throttled} attempts"
                )
            wait = self._flow_control_wait(answer, throttled)
            log.warning(
                "marketplace_flow_control",
                shop=self.http.key,
                channel=self.channel,
                method=method,
                code=answer.code,
                wait=round(wait, 2),
                attempt=throttled,
            )
            hold_back(self.http, wait)

    def _keep_tokens(self, access_token: str, refresh_token: Any) -> None:
        """Use a renewed access token for the rest of the run (and the new refresh token, if the
        marketplace sent one), and hand both to the caller to store."""
        self._access_token = access_token
        if isinstance(refresh_token, str) and refresh_token:
            self._refresh_token = refresh_token
        self.refreshed_credentials = {
            self.token_field: self._access_token,
            "refresh_token": self._refresh_token,
        }
        log.info("marketplace_token_refreshed", shop=self.http.key, channel=self.channel)


# Reading a newest-first list backwards.

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
        """The state as a page token."""
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
        """The state a page token carries; a token this connector did not issue is refused."""
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
        """Where a walk through ``[start, end)`` begins; None for a window of no whole second."""
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


# Reading an oldest-first list forwards.


@dataclass(frozen=True)
class ForwardPages:
    """Page numbers through a window's orders sorted by modification time, oldest first.

    Pages are offsets into that sorted list. An order modified again while the walk goes on
    leaves the window (its new time is past the window's end), and every order behind it moves
    forward: pages already read would then hide some unread ones. The total shrinks when that
    happens, so the walk steps back far enough to read them. A page token carries the page to
    read and the total seen when it was issued.
    """

    channel: str
    first_page: int
    page_size: int

    def next_page(self, page: int, total: int, seen_total: int | None, received: int) -> int | None:
        """The page to ask for after ``page`` (None when the window is done)."""
        if seen_total is not None and total < seen_total:
            frontier = (page - self.first_page) * self.page_size
            return self.first_page + max(0, frontier - (seen_total - total)) // self.page_size
        if received == 0 or (page - self.first_page + 1) * self.page_size >= total:
            return None
        return page + 1

    def read_token(self, token: str | None) -> tuple[int, int | None]:
        """The page a token names and the total seen when it was issued (none for the first)."""
        if token is None:
            return self.first_page, None
        page, _, total = token.partition(":")
        try:
            return int(page), int(total)
        except ValueError:
            raise ConnectorError(f"not a {self.channel} page token: {token!r}") from None

    def token_after(
        self, page: int, total: int, seen_total: int | None, received: int
    ) -> str | None:
        """The token for the page after ``page``, or None when the window is done."""
        following = self.next_page(page, total, seen_total, received)
        return None if following is None else f"{following}:{total}"
