"""Order review (订单审核): the rules an imported order passes before it is accepted.

Everything here is a pure function of the order, the tenant's settings and figures the caller
has already looked up (the shop's norms, the number of likely duplicates), so the rules can be
tested and re-run without a database. The caller stores ``HoldReason.as_dict()`` on the order
and ``duplicate_fingerprint`` beside it so duplicates are one indexed query away.

Details are written for the operator who releases the order: they name the problem, never the
buyer's full phone number or address.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from daiyun.platform.orders.normalized import Address, NormalizedOrder


class HoldCode:
    """Why review holds an order; the values are stored in ``Order.hold_reasons``."""

    address_incomplete = "address_incomplete"
    address_unclear = "address_unclear"
    phone_invalid = "phone_invalid"
    missing_information = "missing_information"
    duplicate_suspected = "duplicate_suspected"
    blocklisted = "blocklisted"
    amount_outlier = "amount_outlier"
    quantity_outlier = "quantity_outlier"


def N_(message: str) -> str:
    """Marks an English phrase as a message the portal's catalogs translate (``make messages``)."""
    return message


# A clause of a reason's sentence: an English template and its values. A value that is a list
# holds words the catalogs translate too ("country", "city"), joined as the language joins them;
# a value that is a {"text", "values"} dict is a phrase of its own ("ending 8000").
Phrase = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class HoldReason:
    """One reason an order is held, with a short sentence for the operator.

    ``detail`` is the sentence in English (the API's); ``parts`` are its clauses, kept with the
    order so the portal can say the same in the reader's language.
    """

    code: str
    detail: str
    parts: tuple[Phrase, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The reason as stored in ``Order.hold_reasons``."""
        found: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.parts:
            found["parts"] = [{"text": text, "values": values} for text, values in self.parts]
        return found


def english(text: str, values: dict[str, Any]) -> str:
    """A phrase in English: list values joined with commas, nested phrases said first."""

    def said(value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(value)
        if isinstance(value, dict):
            return english(value["text"], value["values"])
        return value

    return text % {key: said(value) for key, value in values.items()}


def _reason(code: str, *parts: Phrase) -> HoldReason:
    return HoldReason(code, _sentence([english(text, values) for text, values in parts]), parts)


@dataclass(frozen=True)
class ShopNorms:
    """Median figures of a shop's recent orders, computed by the caller."""

    order_count: int
    typical_total_minor: int
    typical_item_count: int


# --- normalisation shared by the settings, the rules and the fingerprint --------------------


def _clean(value: str | None) -> str | None:
    """The trimmed text, or None when there is none: a blank field is a missing field."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def _identity(value: str) -> str:
    """A buyer email or name as compared: case-folded, inner whitespace collapsed."""
    return " ".join(value.casefold().split())


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _address_key(value: str) -> str:
    # Letters and digits only, so "No. 5, Main St" matches "no 5 main st" and a Chinese
    # address typed with or without spaces between its parts matches either way.
    return re.sub(r"[\W_]+", "", value.casefold())


def _region(country: str | None) -> str | None:
    country = _clean(country)
    if country is None:
        return None
    country = country.upper()
    return country if re.fullmatch(r"[A-Z]{2}", country) else None


def _parse_phone(raw: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None


def _normalise_phone(raw: str, region: str | None) -> str:
    """E.164 when the number parses to a possible number, else its digits alone."""
    number = _parse_phone(raw, region)
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return _digits(raw)


def _mask_phone(raw: str) -> dict[str, Any]:
    """A phone as a reason names it: its last four digits only (a nested phrase, translated
    with the clause that holds it)."""
    digits = _digits(raw)
    if len(digits) >= 4:
        return {"text": N_("ending %(digits)s"), "values": {"digits": digits[-4:]}}
    return {"text": N_("with too few digits"), "values": {}}


# --- settings -------------------------------------------------------------------------------


def _text_entries(values: list[str], what: str) -> list[str]:
    cleaned: list[str] = []
    for position, value in enumerate(values, start=1):
        text = _clean(value)
        if text is None:
            raise ValueError(f"{what} entry {position} is blank")
        cleaned.append(text)
    return cleaned


# A blocklist or auto-approve entry: some text that is not only blanks.
Entry = Annotated[str, Field(json_schema_extra={"pattern": r"\S"})]


class ReviewSettings(BaseModel):
    """A tenant's review settings, as kept in ``ReviewPolicy.settings``.

    Every rule is on unless turned off. Blocklist and auto-approve entries are kept trimmed;
    comparisons ignore case (and, for phones, formatting).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # JSON true/false only: 0 or "no" for a rule's switch is a mistake to report, not to guess.
    check_address: StrictBool = True
    check_phone: StrictBool = True
    check_required: StrictBool = True
    check_duplicates: StrictBool = True
    check_blocklist: StrictBool = True
    check_outliers: StrictBool = True
    # The bounds are checked by the validators below (with messages staff can act on) and
    # shown in the schema, so API clients see them too.
    duplicate_window_hours: int = Field(24, json_schema_extra={"minimum": 1, "maximum": 720})
    outlier_factor: Decimal = Field(Decimal("5"), json_schema_extra={"exclusiveMinimum": 1})
    outlier_min_history: int = Field(20, json_schema_extra={"minimum": 1})
    blocked_buyers: list[Entry] = []
    blocked_phones: list[Entry] = []
    blocked_addresses: list[Entry] = []
    auto_approve_buyers: list[Entry] = []
    auto_approve_shops: list[uuid.UUID] = []

    @field_validator("duplicate_window_hours", "outlier_min_history", mode="before")
    @classmethod
    def _no_bool_counts(cls, value: Any) -> Any:
        # JSON true would otherwise be read as 1.
        if isinstance(value, bool):
            raise ValueError("must be a whole number, not true/false")
        return value

    @field_validator("duplicate_window_hours")
    @classmethod
    def _window(cls, value: int) -> int:
        if not 1 <= value <= 720:
            raise ValueError("duplicate window must be between 1 and 720 hours (30 days)")
        return value

    @field_validator("outlier_min_history")
    @classmethod
    def _min_history(cls, value: int) -> int:
        if value < 1:
            raise ValueError("outlier minimum history must be at least 1 order")
        return value

    @field_validator("outlier_factor", mode="before")
    @classmethod
    def _factor_not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("outlier factor must be a number, not true/false")
        return value

    @field_validator("outlier_factor")
    @classmethod
    def _factor(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value <= 1:
            raise ValueError("outlier factor must be greater than 1")
        return value

    @field_validator("blocked_buyers")
    @classmethod
    def _blocked_buyers(cls, values: list[str]) -> list[str]:
        return _text_entries(values, "blocked buyer")

    @field_validator("auto_approve_buyers")
    @classmethod
    def _auto_buyers(cls, values: list[str]) -> list[str]:
        return _text_entries(values, "auto-approve buyer")

    @field_validator("blocked_phones")
    @classmethod
    def _blocked_phones(cls, values: list[str]) -> list[str]:
        cleaned = _text_entries(values, "blocked phone")
        for position, value in enumerate(cleaned, start=1):
            if len(_digits(value)) < 5:
                raise ValueError(f"blocked phone entry {position} needs at least 5 digits")
        return cleaned

    @field_validator("blocked_addresses")
    @classmethod
    def _blocked_addresses(cls, values: list[str]) -> list[str]:
        cleaned = _text_entries(values, "blocked address")
        for position, value in enumerate(cleaned, start=1):
            # A substring match on one or two characters would hold half the orders.
            if len(_address_key(value)) < 3:
                raise ValueError(
                    f"blocked address entry {position} needs at least 3 letters or digits"
                )
        return cleaned

    @classmethod
    def from_stored(cls, d: dict[str, Any] | None) -> ReviewSettings:
        """Settings from ``ReviewPolicy.settings``; an empty (or missing) dict gives defaults."""
        return cls.model_validate(d or {})


# --- the rules ------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(
    # Latin placeholders only when not part of a longer word ("Foxxx Lane" is a street),
    # though they may touch CJK text ("xxx路").
    r"(?<![a-z])(?:tbd|n/a|x{3,}|unknown)(?![a-z])|\?|？|不详|待定",
    re.IGNORECASE,
)

_POSTAL_CODES: dict[str, tuple[re.Pattern[str], str]] = {
    "CN": (re.compile(r"\d{6}"), N_("a 6-digit Chinese postal code")),
    "US": (re.compile(r"\d{5}(?:-\d{4})?"), N_("a US ZIP code")),
    "GB": (
        re.compile(r"(?:[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|GIR ?0AA)", re.IGNORECASE),
        N_("a UK postcode"),
    ),
}


def _required(order: NormalizedOrder) -> HoldReason | None:
    problems: list[Phrase] = []
    if not order.lines:
        problems.append((N_("the order has no lines"), {}))
    for line in order.lines:
        if line.quantity <= 0:
            values = {"sku": repr(line.sku), "quantity": line.quantity}
            problems.append((N_("line %(sku)s has quantity %(quantity)s"), values))
    address = order.shipping_address
    if address is None:
        problems.append((N_("there is no shipping address"), {}))
    elif _clean(address.name) is None:
        problems.append((N_("there is no recipient name"), {}))
    if order.total_minor < 0:
        problems.append((N_("the order total is negative"), {}))
    if not problems:
        return None
    return _reason(HoldCode.missing_information, *problems)


def _sentence(parts: list[str]) -> str:
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _address(address: Address) -> list[HoldReason]:
    reasons: list[HoldReason] = []
    region = _region(address.country)

    missing: list[str] = []
    if _clean(address.country) is None:
        missing.append(N_("country"))
    elif region is None:
        missing.append(N_("a two-letter country code"))
    if region == "CN" and _clean(address.province) is None:
        missing.append(N_("province"))
    if _clean(address.city) is None:
        missing.append(N_("city"))
    if _clean(address.address1) is None:
        missing.append(N_("street"))
    if missing:
        incomplete = (N_("shipping address is missing %(fields)s"), {"fields": missing})
        reasons.append(_reason(HoldCode.address_incomplete, incomplete))

    unclear: list[Phrase] = []
    street = _clean(address.address1)
    if street is not None:
        if len(street) < 4:
            unclear.append((N_("the street is too short to deliver to"), {}))
        elif _PLACEHOLDER.search(street):
            unclear.append((N_("the street contains placeholder text"), {}))
    postal = _clean(address.postal_code)
    if postal is not None and region in _POSTAL_CODES:
        pattern, label = _POSTAL_CODES[region]
        if not pattern.fullmatch(postal):
            unclear.append((N_("the postal code is not %(kind)s"), {"kind": [label]}))
    if unclear:
        reasons.append(_reason(HoldCode.address_unclear, *unclear))
    return reasons


def _contact_phone(order: NormalizedOrder) -> str | None:
    address = order.shipping_address
    address_phone = _clean(address.phone) if address is not None else None
    return address_phone or _clean(order.buyer_phone)


def _phone(order: NormalizedOrder, address: Address) -> HoldReason | None:
    region = _region(address.country)
    raw = _contact_phone(order)
    if raw is None:
        # Couriers in China will not take a parcel without the recipient's phone.
        if region == "CN":
            return _reason(
                HoldCode.phone_invalid, (N_("no phone number; couriers in China require one"), {})
            )
        return None
    number = _parse_phone(raw, region)
    masked = {"phone": _mask_phone(raw)}
    if number is None and region is None:
        unknown = N_("phone number %(phone)s has no country code and the destination is unknown")
        return _reason(HoldCode.phone_invalid, (unknown, masked))
    if number is None or not phonenumbers.is_valid_number(number):
        if region:
            invalid = N_("phone number %(phone)s is not a valid number for %(region)s")
            return _reason(HoldCode.phone_invalid, (invalid, {**masked, "region": region}))
        return _reason(
            HoldCode.phone_invalid, (N_("phone number %(phone)s is not a valid number"), masked)
        )
    return None


def _phones_match(order_phone: str, entry: str, destination: str | None) -> bool:
    number = _parse_phone(order_phone, destination)
    # An entry written without a country code is read in the country the order's phone
    # belongs to, so "138 0013 8000" blocks "+86 13800138000" whatever the destination.
    region = (number and phonenumbers.region_code_for_number(number)) or destination
    if _normalise_phone(order_phone, region) == _normalise_phone(entry, region):
        return True
    return _digits(order_phone) == _digits(entry)


def _address_texts(address: Address) -> list[str]:
    western = (
        address.address1,
        address.address2,
        address.district,
        address.city,
        address.province,
        address.postal_code,
        address.country,
    )
    # Chinese addresses are written largest part first: 省 市 区 then the street.
    eastern = (
        address.country,
        address.province,
        address.city,
        address.district,
        address.address1,
        address.address2,
        address.postal_code,
    )
    return [_address_key(" ".join(p for p in parts if p)) for parts in (western, eastern)]


def _blocklist(order: NormalizedOrder, settings: ReviewSettings) -> HoldReason | None:
    address = order.shipping_address
    hits: list[Phrase] = []

    blocked = {_identity(entry) for entry in settings.blocked_buyers}
    # The recipient counts as well as the buyer: a blocked person ordering from a new
    # account usually still ships to themselves.
    names = [order.buyer_email, order.buyer_name, address.name if address else None]
    if any(_identity(n) in blocked for n in names if n is not None and n.strip()):
        hits.append((N_("the buyer is on the blocklist"), {}))

    destination = _region(address.country) if address else None
    candidates = (order.buyer_phone, address.phone if address else None)
    phones = {p for p in (_clean(c) for c in candidates) if p is not None}
    for phone in sorted(phones):
        if any(_phones_match(phone, entry, destination) for entry in settings.blocked_phones):
            hits.append((N_("phone %(phone)s is on the blocklist"), {"phone": _mask_phone(phone)}))

    if address is not None and settings.blocked_addresses:
        texts = _address_texts(address)
        entries = [_address_key(entry) for entry in settings.blocked_addresses]
        if any(entry in text for entry in entries for text in texts):
            hits.append((N_("the shipping address matches a blocked address"), {}))

    if not hits:
        return None
    # The buyer's and the recipient's phone are often one number written two ways.
    unique = list({english(text, values): (text, values) for text, values in hits}.values())
    return _reason(HoldCode.blocklisted, *unique)


def _item_count(order: NormalizedOrder) -> int:
    return sum(line.quantity for line in order.lines)


def _exceeds(value: int, factor: Decimal, typical: int) -> bool:
    """Whether value > factor x typical, in exact integer arithmetic."""
    numerator, denominator = factor.as_integer_ratio()
    return value * denominator > numerator * typical


def _outliers(
    order: NormalizedOrder, settings: ReviewSettings, norms: ShopNorms
) -> list[HoldReason]:
    if norms.order_count < settings.outlier_min_history:
        return []
    reasons: list[HoldReason] = []
    factor = settings.outlier_factor
    basis = {"factor": str(factor), "orders": norms.order_count}
    # A shop whose median order is free has no meaningful amount norm to exceed.
    if norms.typical_total_minor > 0 and _exceeds(
        order.total_minor, factor, norms.typical_total_minor
    ):
        total = N_(
            "order total is more than %(factor)sx the median of this shop's last %(orders)s orders"
        )
        reasons.append(_reason(HoldCode.amount_outlier, (total, basis)))
    if _exceeds(_item_count(order), factor, max(1, norms.typical_item_count)):
        items = N_(
            "item count %(items)s is more than %(factor)sx the median of this shop's last "
            "%(orders)s orders"
        )
        values = {**basis, "items": _item_count(order)}
        reasons.append(_reason(HoldCode.quantity_outlier, (items, values)))
    return reasons


def auto_approved(order: NormalizedOrder, shop_id: uuid.UUID, settings: ReviewSettings) -> bool:
    if shop_id in settings.auto_approve_shops:
        return True
    trusted = {_identity(entry) for entry in settings.auto_approve_buyers}
    return any(
        value is not None and _identity(value) in trusted
        for value in (_clean(order.buyer_email), _clean(order.buyer_name))
    )


def evaluate(
    order: NormalizedOrder,
    shop_id: uuid.UUID,
    settings: ReviewSettings,
    norms: ShopNorms,
    duplicates: int,
) -> list[HoldReason]:
    """Every reason to hold ``order``; an empty list means it passes.

    ``duplicates`` is how many other orders the caller found with the same
    ``duplicate_fingerprint`` within ``settings.duplicate_window_hours``. A buyer or shop on
    the auto-approve lists passes with nothing else checked.
    """
    if auto_approved(order, shop_id, settings):
        return []

    reasons: list[HoldReason] = []
    address = order.shipping_address
    if settings.check_required and (reason := _required(order)) is not None:
        reasons.append(reason)
    # Without an address there is nothing to judge and no destination to read the phone
    # in; missing_information already holds such an order. An encrypted receiver (Chinese
    # marketplaces) cannot be read here: its street and phone are the marketplace's to check.
    if address is not None and not order.receiver_encrypted:
        if settings.check_address:
            reasons.extend(_address(address))
        if settings.check_phone and (reason := _phone(order, address)) is not None:
            reasons.append(reason)
    if settings.check_blocklist and (reason := _blocklist(order, settings)) is not None:
        reasons.append(reason)
    if settings.check_duplicates and duplicates > 0:
        same = (
            N_(
                "%(count)s other order from the same buyer with the same items in the last "
                "%(hours)s hours"
            )
            if duplicates == 1
            else N_(
                "%(count)s other orders from the same buyer with the same items in the last "
                "%(hours)s hours"
            )
        )
        values = {"count": duplicates, "hours": settings.duplicate_window_hours}
        reasons.append(_reason(HoldCode.duplicate_suspected, (same, values)))
    if settings.check_outliers:
        reasons.extend(_outliers(order, settings, norms))
    return reasons


# --- duplicates -----------------------------------------------------------------------------


def _buyer_key(order: NormalizedOrder) -> str | None:
    address = order.shipping_address
    email = _clean(order.buyer_email)
    if email is not None:
        return "email:" + email.lower()
    phone = _clean(order.buyer_phone) or _clean(address.phone if address else None)
    if phone is not None:
        region = _region(address.country) if address else None
        return "phone:" + _normalise_phone(phone, region)
    for name in (order.buyer_name, address.name if address else None):
        if name is not None and _clean(name) is not None:
            return "name:" + _identity(name)
    return None


def _items(lines: Iterable[tuple[str, int]]) -> list[list[str | int]]:
    # Quantities are summed per SKU, so two lines of one SKU equal one line of both.
    counts: Counter[str] = Counter()
    for sku, quantity in lines:
        counts[sku.strip()] += quantity
    return [[sku, counts[sku]] for sku in sorted(counts)]


def duplicate_fingerprint(order: NormalizedOrder) -> str:
    """A sha256 hex digest of the buyer's identity and the items ordered.

    The identity is the lowercased email, else the normalised phone, else the name. The items
    are the SKUs with their quantities, independent of line order. An order with no buyer
    identity at all cannot be tied to a buyer, so its own external id stands in and it
    matches only itself.
    """
    buyer = _buyer_key(order) or "order:" + order.external_id
    items = _items((line.sku, line.quantity) for line in order.lines)
    payload = json.dumps([buyer, items], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("ascii")).hexdigest()
