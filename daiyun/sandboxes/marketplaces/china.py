"""What the sandbox's four Chinese marketplaces share: Beijing time, yuan, sealed receivers, tokens.

Taobao (TOP), Pinduoduo, JD (JOS) and Douyin Shop are "gateway" APIs: one endpoint per shop, the
method named in a parameter, every request signed with the app's secret, and almost every failure
answered with HTTP 200 and an error in the marketplace's own envelope. Each channel module checks
its own signature and renders its own errors; this module holds the parts that do not differ.

Receiver data (name, phone, street address) is sealed as the marketplaces seal it: an opaque
``~...~1~~`` string that only a separate decryption API could open. Here the plaintext is XORed
with a keystream drawn from the shop's name, so the same value always seals the same way (as the
real ones do, to stay searchable) and no plaintext name or phone survives in a response.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.requests import Request

from daiyun.sandboxes.marketplaces.numbering import BEIJING, shop_hash
from daiyun.sandboxes.marketplaces.state import CallVerdict, SandboxState, Shop

WIRE_TIME = "%Y-%m-%d %H:%M:%S"
# How far back an incremental pull may reach: Taobao and Pinduoduo keep three months.
HISTORY = timedelta(days=90)
# Credentials when registering a shop: app key, app secret, access token, refresh token.
CREDENTIALS: dict[str, tuple[str, str, str, str]] = {
    "taobao": ("app_key", "app_secret", "session", "refresh_token"),
    "pinduoduo": ("client_id", "client_secret", "access_token", "refresh_token"),
    "jd": ("app_key", "app_secret", "access_token", "refresh_token"),
    "douyin": ("app_key", "app_secret", "access_token", "refresh_token"),
}
# TOP sessions start with "6" followed by digits and hex; the others are opaque hex.
_TOKEN_PREFIX = {"taobao": "6201", "pinduoduo": "", "jd": "", "douyin": ""}
# Expired tokens are remembered this long (Douyin tells "expired" from "unknown").
_FORGET_AFTER = 86400.0

TokenState = Literal["valid", "expired", "unknown"]


def check_credentials(channel: str, credentials: dict[str, Any]) -> str:
    """Raise ValueError unless every credential is there; return the access token's name."""
    names = CREDENTIALS[channel]
    missing = [name for name in names if not str(credentials.get(name) or "")]
    if missing:
        raise ValueError(f"{channel} credentials need {', '.join(missing)}")
    return names[2]


def app_key(shop: Shop) -> str:
    return str(shop.credentials.get(CREDENTIALS[shop.channel][0], ""))


def app_secret(shop: Shop) -> str:
    return str(shop.credentials.get(CREDENTIALS[shop.channel][1], ""))


# -- time and money ------------------------------------------------------------------------------


def beijing(moment: datetime | None) -> str | None:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time, the way all four write times."""
    return moment.astimezone(BEIJING).strftime(WIRE_TIME) if moment else None


def parse_beijing(text: str) -> datetime:
    """A ``yyyy-MM-dd HH:mm:ss`` Beijing time as aware UTC; ValueError if it is not one."""
    return datetime.strptime(text.strip(), WIRE_TIME).replace(tzinfo=BEIJING).astimezone(UTC)


def parse_clock(value: Any) -> datetime:
    """A request's timestamp: Unix seconds, Unix milliseconds or a Beijing wall-clock time."""
    text = str(value).strip()
    if text.isdigit():
        number = int(text)
        # Milliseconds have 13 digits until the year 2286; seconds have 10.
        return datetime.fromtimestamp(number / 1000 if number > 10**11 else number, UTC)
    return parse_beijing(text)


def skewed(moment: datetime, limit: timedelta) -> bool:
    """Whether a client's timestamp is further than ``limit`` from the sandbox's clock."""
    return abs(datetime.now(UTC) - moment) > limit


def yuan(amount: int) -> str:
    """Fen as the yuan string the marketplaces send ("29.90", "-5.00")."""
    sign = "-" if amount < 0 else ""
    whole, fen = divmod(abs(amount), 100)
    return f"{sign}{whole}.{fen:02d}"


def catalogue_id(sku: str, base: int) -> int:
    """A marketplace's product or SKU id for a catalogue SKU: stable, and the same in every shop."""
    return base + int.from_bytes(hashlib.sha256(sku.encode()).digest()[:4], "big") % 10**9


def mall_id(shop: Shop) -> int:
    """The shop's numeric id (a Pinduoduo mall or Douyin shop): its name when that is a number."""
    return int(shop.name) if shop.name.isdigit() else 10_000_000 + shop_hash(shop.name) % 10**8


# -- sealed receivers ----------------------------------------------------------------------------


def seal(shop: Shop, plaintext: str | None) -> str:
    """An opaque ``~...~1~~`` string in place of a receiver's name, phone or street address."""
    if not plaintext:
        return ""
    data = plaintext.encode()
    key = hashlib.sha256(f"sandbox-seal/{shop.label}".encode()).digest()
    stream = b""
    counter = 0
    while len(stream) < len(data):
        stream += hashlib.sha256(key + counter.to_bytes(4, "big")).digest()
        counter += 1
    sealed = bytes(a ^ b for a, b in zip(data, stream, strict=False))
    # A version and key-id header, as the real ones carry ("~AgAAAA..." is version 2).
    header = b"\x02\x00\x00\x00" + key[:4]
    return f"~{base64.b64encode(header + sealed).decode()}~1~~"


# -- tokens --------------------------------------------------------------------------------------


def token_state(state: SandboxState, shop: Shop, token: str | None) -> TokenState:
    with state.lock:
        expiry = shop.access_tokens.get(token) if token else None
    if expiry is None:
        return "unknown"
    return "valid" if time.monotonic() < expiry else "expired"


def refresh_grant(state: SandboxState, shop: Shop, refresh_token: str | None) -> tuple[str, str]:
    """A new access and refresh token for a known refresh token; LookupError for an unknown one.

    Earlier refresh tokens stay valid: a client that lost the newest one is not locked out,
    which is how the marketplaces behave within a refresh token's own lifetime.
    """
    prefix = _TOKEN_PREFIX[shop.channel]
    now = time.monotonic()
    with state.lock:
        if not refresh_token or refresh_token not in shop.refresh_tokens:
            raise LookupError("unknown refresh token")
        for value, expiry in list(shop.access_tokens.items()):
            if expiry < now - _FORGET_AFTER:
                del shop.access_tokens[value]
        access = prefix + secrets.token_hex(20)
        refresh = prefix + secrets.token_hex(20)
        shop.access_tokens[access] = now + state.china_token_lifetime
        shop.refresh_tokens.add(refresh)
        return access, refresh


def lifetime(state: SandboxState) -> int:
    return round(state.china_token_lifetime)


# -- the gateway's door --------------------------------------------------------------------------


def open_gateway(state: SandboxState, channel: str, name: str) -> tuple[Shop | None, CallVerdict]:
    """Count the call, draw its injected fault and wait out an injected slowness."""
    shop = state.shop(channel, name)
    verdict = state.open_call(shop, f"{channel}/{name}")
    if verdict.delay:
        time.sleep(verdict.delay)
    return shop, verdict


def flow_wait(state: SandboxState, shop: Shop) -> float | None:
    """None when the shop's bucket has a request to spend, else the seconds until it has."""
    slot = state.take_slot(shop)
    return None if slot.allowed else slot.retry_after


def wire_value(value: Any) -> str:
    """A JSON parameter's value as the string that is signed (and that a form would carry)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def read_params(request: Request) -> dict[str, str]:
    """The query string and the body (form-encoded or a JSON object), as strings."""
    params = dict(request.query_params)
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        # SDKs switch to multipart when a call uploads a file; only the text fields are signed.
        async with request.form() as form:
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params
    body = await request.body()
    if not body:
        return params
    if kind.startswith("application/json"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return params
        if isinstance(parsed, dict):
            params.update({str(k): wire_value(v) for k, v in parsed.items()})
        return params
    # Blank values are kept: some marketplaces sign them, and the check must see what came.
    params.update(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
    return params


def bounded(params: dict[str, Any], name: str, default: int, low: int, high: int = 2**31) -> int:
    """An integer parameter within ``[low, high]``; ValueError naming the parameter if not."""
    raw = params.get(name)
    try:
        value = default if raw is None or raw == "" else int(raw)
    except (TypeError, ValueError):
        raise ValueError(name) from None
    if not low <= value <= high:
        raise ValueError(name)
    return value


def concat(params: dict[str, str], *, skip_empty: bool) -> str:
    """Every parameter but ``sign``, sorted by name (byte order), as name + value."""
    names = sorted((name for name in params if name != "sign"), key=lambda n: n.encode())
    return "".join(name + params[name] for name in names if params[name] or not skip_empty)


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()


def same(offered: str | None, expected: str) -> bool:
    return secrets.compare_digest((offered or "").encode(), expected.encode())
