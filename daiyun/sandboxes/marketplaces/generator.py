"""Realistic sandbox orders, drawn from a seeded ``random.Random`` so a seed gives the same shop.

Buyers are Chinese or English-speaking, shipping to China, the United States or the United
Kingdom in proportions that follow the shop's currency; on the Chinese marketplaces every buyer
is Chinese, pays in yuan and ships within China, at prices that include VAT. The data is as
untidy as a real shop's: about 5% of phone numbers are malformed and about 3% of addresses are
incomplete or unclear, so the connectors' normalisers and the address checks downstream meet
the cases they must handle.
Orders generated "with history" have already lived: paid, shipped, delivered, cancelled or
refunded at times between their creation and their last update. Money is integer minor units
throughout; :func:`format_minor` renders it as the decimal strings the marketplaces send.
"""

from __future__ import annotations

import random
import string
import zlib
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from daiyun.sandboxes.marketplaces.catalogs import catalog_of_shop, sold_items
from daiyun.sandboxes.marketplaces.state import (
    ACTIONS,
    CHINA_CHANNELS,
    Address,
    Buyer,
    Order,
    OrderConflict,
    OrderLine,
    Refund,
    Shop,
)

# Currencies whose minor unit is not the cent; every other one has two decimals.
_MINOR_DIGITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "KWD": 3, "BHD": 3, "JOD": 3}


def minor_digits(currency: str) -> int:
    return _MINOR_DIGITS.get(currency.upper(), 2)


def format_minor(amount: int, currency: str) -> str:
    """Integer minor units as the decimal string marketplaces send ("29.99", "-5.00")."""
    digits = minor_digits(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}" if digits else f"{sign}{whole}"


def parse_amount(text: str, currency: str) -> int:
    """A decimal string as exact minor units; ValueError when it is not one."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError) as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not an amount: {text!r}")
    minor = value.scaleb(minor_digits(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{text!r} has more decimals than {currency} allows")
    return int(minor)


# SKU | English title | Chinese title | price in US cents
_CATALOGUE = """
TEA-LJ-250|Longjing Green Tea 250g|西湖龙井 250克|2499
TEA-PU-357|Aged Pu-erh Tea Cake 357g|普洱茶饼 357克|3899
SILK-PC-01|Mulberry Silk Pillowcase|桑蚕丝枕套|3999
SILK-SC-02|Silk Scarf, Peony Print|牡丹印花真丝围巾|5900
CER-CUP-06|Celadon Tea Cup Set (6)|青瓷茶杯六件套|4550
CER-POT-01|Yixing Clay Teapot|宜兴紫砂壶|8800
HOME-LMP-03|Paper Lantern Table Lamp|纸灯笼台灯|2750
BEAUTY-MSK-10|Sheet Mask Pack (10)|补水面膜 10片装|1599
SNACK-MC-08|Mooncake Gift Box|月饼礼盒|3299
ELEC-CBL-2M|USB-C Cable 2m|USB-C 数据线 2米|899
ELEC-PB-10K|Power Bank 10000mAh|充电宝 10000mAh|2999
APP-HD-M|Ink Wash Hoodie, M|水墨连帽卫衣 M码|4500
APP-HD-L|Ink Wash Hoodie, L|水墨连帽卫衣 L码|4500
TOY-KITE-01|Swallow Kite|燕子风筝|1999
STAT-BR-05|Calligraphy Brush Set|毛笔套装|1850
HOME-CHP-10|Bamboo Chopsticks (10 pairs)|竹筷 10双装|799
"""
# province | province code | city | district | postcode
_CN_PLACE_TABLE = """
广东省|GD|深圳市|南山区|518057
广东省|GD|广州市|天河区|510620
浙江省|ZJ|杭州市|西湖区|310013
北京市|BJ|北京市|朝阳区|100020
上海市|SH|上海市|浦东新区|200120
江苏省|JS|南京市|鼓楼区|210008
四川省|SC|成都市|武侯区|610041
湖北省|HB|武汉市|洪山区|430070
福建省|FJ|厦门市|思明区|361001
山东省|SD|青岛市|市南区|266001
"""
# city | state | state code | ZIP prefix | area code
_US_PLACE_TABLE = """
New York|New York|NY|100|212
Los Angeles|California|CA|900|213
Chicago|Illinois|IL|606|312
Houston|Texas|TX|770|713
Seattle|Washington|WA|981|206
San Francisco|California|CA|941|415
Boston|Massachusetts|MA|021|617
Austin|Texas|TX|787|512
"""
# city | nation | postcode
_UK_PLACE_TABLE = """
London|England|SW1A 2AA
London|England|EC1V 9HX
Manchester|England|M1 1AE
Birmingham|England|B1 1BB
Leeds|England|LS1 4AP
Bristol|England|BS1 4DJ
Glasgow|Scotland|G1 1XQ
Edinburgh|Scotland|EH1 1YZ
"""


def _table(text: str) -> list[list[str]]:
    return [row.split("|") for row in text.strip().splitlines()]


def _words(text: str, separator: str | None = None) -> list[str]:
    return text.split(separator)


def _pairs(text: str) -> list[tuple[str, str]]:
    """``汉字:Pinyin`` words as (characters, romanisation) pairs."""
    return [(word.split(":")[0], word.split(":")[1]) for word in text.split()]


PRODUCTS = [(sku, en, zh, int(cents)) for sku, en, zh, cents in _table(_CATALOGUE)]
_CN_PLACES = _table(_CN_PLACE_TABLE)
_US_PLACES = _table(_US_PLACE_TABLE)
_UK_PLACES = _table(_UK_PLACE_TABLE)

# Approximate value of one US dollar, to price the catalogue in the shop's currency.
_USD_RATE = dict(
    USD=1.0, CNY=7.2, GBP=0.79, EUR=0.92, JPY=150.0, CAD=1.36, AUD=1.52, HKD=7.8, SGD=1.34
)
# Where buyers live (US, CN, GB weights), by the shop's currency.
_COUNTRY_MIX = {"USD": (80, 12, 8), "CNY": (4, 92, 4), "GBP": (10, 10, 80), "EUR": (35, 25, 40)}
_COUNTRIES = ("US", "CN", "GB")
_TAX = {"US": (800, "Sales Tax"), "GB": (2000, "VAT"), "CN": (1300, "VAT")}

_CN_SURNAMES = _pairs(
    "王:Wang 李:Li 张:Zhang 刘:Liu 陈:Chen 杨:Yang 黄:Huang 赵:Zhao 吴:Wu 周:Zhou 徐:Xu "
    "孙:Sun 马:Ma 朱:Zhu 胡:Hu 郭:Guo 何:He 林:Lin 罗:Luo 欧阳:Ouyang"
)
_CN_GIVEN = _pairs(
    "伟:Wei 芳:Fang 娜:Na 秀英:Xiuying 敏:Min 静:Jing 丽:Li 强:Qiang 磊:Lei 军:Jun 洋:Yang "
    "勇:Yong 艳:Yan 杰:Jie 娟:Juan 涛:Tao 明:Ming 超:Chao 晓明:Xiaoming 子涵:Zihan "
    "欣怡:Xinyi 浩然:Haoran 雨桐:Yutong"
)
_EN_FIRST = _words(
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Susan "
    "Olivia Oliver Amelia Harry Emma Noah Sophie Jack Chloe Daniel Grace Thomas"
)
_EN_LAST = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Taylor Wilson Evans Thomas Roberts "
    "Walker Wright O'Connor Clarke Hughes Martin Lee Thompson White Harris Lewis"
)
_CN_ROADS = _words(
    "科技园路 文一西路 建国路 世纪大道 中山路 人民路 解放路 天府大道 珞喻路 湖滨南路"
)
_CN_MOBILE = _words(
    "130 131 132 135 136 137 138 139 150 151 152 155 156 157 158 159 176 177 180 181 186 187 "
    "188 189 199"
)
_US_STREETS = _words(
    "Main St|Oak Ave|Maple Dr|Cedar Ln|Park Ave|Washington Blvd|Elm St|Lakeview Rd|Sunset Blvd|"
    "Broadway",
    "|",
)
_UK_STREETS = _words(
    "High Street|Station Road|Church Lane|Victoria Road|Mill Lane|Queen Street|Kings Road", "|"
)
_BAD_PHONES = _words("123|+86 138|000000|n/a|+1 (555) 12|138-1234-56789|call me|+44 7", "|")
_CN_MAIL = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com")
_EN_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "hotmail.co.uk")
_NOTES = ("",) * 6 + (
    "请周末送货",
    "Please leave at the door",
    "送货前请电话联系",
    "Gift, no invoice",
)

# Final state of an order generated with history, and how often each happens.
_FATES = _words("pending paid partial shipped delivered cancelled refunded partially_refunded")
_FATE_WEIGHTS = (12, 25, 4, 35, 12, 6, 3, 3)


def _deck(values: tuple[Any, ...], weights: tuple[int, ...]) -> tuple[Any, ...]:
    """Each value repeated by its weight: one ``rng.choice`` then draws by weight, cheaply."""
    return tuple(
        value for value, weight in zip(values, weights, strict=True) for _ in range(weight)
    )


_FATE_DECK = _deck(tuple(_FATES), _FATE_WEIGHTS)
_LINES_DECK = _deck((1, 2, 3, 4), (12, 5, 2, 1))
# 0 stands for the rare bulk purchase.
_QUANTITY_DECK = _deck((1, 2, 3, 0), (70, 18, 9, 3))


def _asin(sku: str) -> str:
    value = zlib.crc32(sku.encode())
    digits = string.digits + string.ascii_uppercase
    tail = ""
    for _ in range(8):
        value, rest = divmod(value * 7 + 13, 36)
        tail += digits[rest]
    return "B0" + tail


def local_price(usd_cents: int, currency: str, *, charm: bool = True) -> int:
    """A catalogue price in the shop's currency, in minor units.

    Rounded to whole units of the currency; with ``charm`` one minor unit below (24.99, 179.99).
    """
    unit = 10 ** minor_digits(currency)
    whole = max(1, round(usd_cents * _USD_RATE.get(currency, 1.0) / 100))
    if unit == 1:
        # Currencies without decimals price in round tens (JPY 3,750).
        whole = max(10, round(whole / 10) * 10)
    return whole * unit - (1 if charm and unit > 1 else 0)


_ASINS = {sku: _asin(sku) for sku, _, _, _ in PRODUCTS}


class OrderFactory:
    """Draws orders for one shop; ids come from the shop's own sequences."""

    def __init__(self, rng: random.Random, shop: Shop) -> None:
        self.rng = rng
        self.shop = shop
        self.currency = shop.currency
        weights = _COUNTRY_MIX.get(self.currency, (50, 30, 20))
        self._countries = rng.choices(_COUNTRIES, weights, k=256)
        self._china = shop.channel in CHINA_CHANNELS
        if self._china:
            self._countries = ["CN"]
        # Pinduoduo and JD show sellers an order only once it is paid.
        self._paid_at_once = shop.channel in ("pinduoduo", "jd")
        # A demo merchant's shop sells its catalog, its best sellers drawn more often; any
        # other shop the generic catalogue, evenly.
        catalog = catalog_of_shop(shop.name)
        self._products: tuple[tuple[str, str, str, int], ...] = tuple(PRODUCTS)
        if catalog is not None:
            items = sold_items(catalog)
            self._products = _deck(tuple(i[:4] for i in items), tuple(i[4] for i in items))
        self._prices = {
            sku: local_price(cents, self.currency) for sku, _, _, cents in self._products
        }
        # Five dollars' worth, in whole units of the currency: flat shipping and coupon value.
        self._five = local_price(500, self.currency, charm=False)
        self._free_above = local_price(5000, self.currency)

    # -- one order --------------------------------------------------------------------------

    def order(self, created_at: datetime) -> Order:
        """A new, unpaid-or-just-paid order created (and last updated) at ``created_at``."""
        rng = self.rng
        country = rng.choice(self._countries)
        buyer = self._buyer(country)
        address = self._address(country, buyer)
        rate_bp, tax_title = _TAX[country]
        if self._china:
            # Chinese marketplace prices include VAT: nothing is added on top.
            rate_bp = 0
        lines = [self._line(rate_bp) for _ in range(rng.choice(_LINES_DECK))]
        gross = sum(line.gross for line in lines)
        order_id = self.shop.allocate("order")
        order = Order(
            id=order_id,
            external_id=self.shop.external_id(order_id, created_at),
            number=self.shop.allocate("number"),
            currency=self.currency,
            created_at=created_at,
            updated_at=created_at,
            buyer=buyer,
            address=address,
            lines=lines,
            shipping=0 if gross >= self._free_above else self._five,
            tax_title=tax_title,
            marketplace_id=rng.choice(self.shop.marketplace_ids),
            note=rng.choice(_NOTES),
        )
        if rng.random() < 0.7 or self._paid_at_once:
            order.paid_at = created_at
        return order

    def batch(self, count: int, start: datetime, end: datetime, *, history: bool) -> list[Order]:
        """``count`` orders last updated uniformly over ``[start, end]``, ids in creation order."""
        rng = self.rng
        span = (end - start).total_seconds()
        times: list[tuple[datetime, datetime]] = []
        for _ in range(count):
            updated = start + timedelta(seconds=int(rng.random() * span))
            fate_age = rng.random() if history else 0.0
            created = updated - timedelta(seconds=int(fate_age * (updated - start).total_seconds()))
            times.append((created, updated))
        times.sort()
        orders = []
        for created, updated in times:
            order = self.order(created)
            if history and updated > created:
                self._live(order, updated)
            orders.append(order)
        return orders

    def _live(self, order: Order, until: datetime) -> None:
        """Give the order a past ending at ``until``: each event falls between creation and then."""
        rng = self.rng
        fate = rng.choice(_FATE_DECK)
        span = (until - order.created_at).total_seconds()
        shipped_at = order.created_at + timedelta(seconds=int(rng.uniform(0.3, 0.9) * span))
        order.updated_at = until
        if self._paid_at_once and fate == "pending":
            fate = "paid"
        if fate == "pending" or (fate == "cancelled" and rng.random() < 0.5):
            if not self._paid_at_once:
                order.paid_at = None
        elif order.paid_at is None:
            order.paid_at = order.created_at + timedelta(seconds=int(rng.uniform(0, 0.3) * span))
        if fate == "cancelled":
            advance(self.shop, order, "cancel", at=until)
            order.cancel_reason = rng.choice(("customer", "inventory", "declined", "other"))
        elif fate == "partial" and order.items > 1:
            advance(self.shop, order, "ship", at=until, items=rng.randint(1, order.items - 1))
        elif fate in ("partial", "shipped"):
            advance(self.shop, order, "ship", at=until)
        elif fate != "pending" and fate != "paid":
            advance(self.shop, order, "ship", at=shipped_at)
            if fate == "delivered":
                advance(self.shop, order, "deliver", at=until)
            else:
                share = 100 if fate == "refunded" else rng.choice((10, 20, 30, 50))
                advance(
                    self.shop, order, "refund", at=until, amount=max(1, order.total * share // 100)
                )

    # -- parts ------------------------------------------------------------------------------

    def _line(self, tax_rate_bp: int) -> OrderLine:
        rng = self.rng
        sku, title_en, title_zh, _ = rng.choice(self._products)
        quantity = rng.choice(_QUANTITY_DECK) or rng.randint(5, 50)
        unit = self._prices[sku]
        gross = unit * quantity
        discount = 0
        roll = rng.random()
        if roll < 0.12:
            discount = gross // 10
        elif roll < 0.2:
            discount = min(gross - 1, self._five)
        tax = ((gross - discount) * tax_rate_bp + 5000) // 10000
        return OrderLine(
            id=self.shop.allocate("line"),
            sku=sku,
            title=title_zh if self.currency == "CNY" else title_en,
            asin=_ASINS.get(sku) or _asin(sku),
            quantity=quantity,
            unit_price=unit,
            discount=discount,
            tax=tax,
            tax_rate_bp=tax_rate_bp,
        )

    def _buyer(self, country: str) -> Buyer:
        rng = self.rng
        customer_id = self.shop.allocate("customer")
        chinese = country == "CN" or rng.random() < 0.15
        if chinese:
            (family, family_py), (given, given_py) = rng.choice(_CN_SURNAMES), rng.choice(_CN_GIVEN)
            if rng.random() < 0.35:
                email = f"{rng.randint(10_000_000, 3_999_999_999)}@qq.com"
            else:
                email = f"{given_py.lower()}.{family_py.lower()}{rng.randint(1, 99)}@" + rng.choice(
                    _CN_MAIL
                )
            if country == "CN":
                first, last, cjk = given, family, True
            else:
                first, last, cjk = given_py, family_py, False
        else:
            first, last, cjk = rng.choice(_EN_FIRST), rng.choice(_EN_LAST), False
            local = f"{first}.{last}".lower().replace("'", "")
            email = f"{local}{rng.randint(1, 999)}@{rng.choice(_EN_MAIL)}"
        return Buyer(customer_id, first, last, email, self._phone(country), cjk)

    def _phone(self, country: str) -> str | None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            return rng.choice(_BAD_PHONES)
        if roll < 0.08:
            return None
        if country == "CN":
            number = rng.choice(_CN_MOBILE) + f"{rng.randint(0, 99_999_999):08d}"
            style = rng.randint(0, 3)
            if style == 0:
                return f"+86 {number[:3]} {number[3:7]} {number[7:]}"
            return ("+86" + number, "+86 " + number, number)[style - 1]
        if country == "US":
            area = rng.choice(_US_PLACES)[4]
            exchange = rng.randint(200, 999)
            while exchange % 100 == 11 or exchange == 555:
                exchange = rng.randint(200, 999)
            line = f"{rng.randint(0, 9999):04d}"
            return rng.choice(
                (
                    f"+1 {area}-{exchange}-{line}",
                    f"+1{area}{exchange}{line}",
                    f"({area}) {exchange}-{line}",
                )
            )
        mobile = f"7{rng.randint(400, 999)}{rng.randint(0, 999_999):06d}"
        return rng.choice((f"+44 {mobile[:4]} {mobile[4:]}", f"0{mobile[:4]} {mobile[4:]}"))

    def _address(self, country: str, buyer: Buyer) -> Address:
        rng = self.rng
        fields: dict[str, Any]
        if country == "CN":
            province, code, city, district, postcode = rng.choice(_CN_PLACES)
            building, unit, room = rng.randint(1, 30), rng.randint(1, 4), rng.randint(101, 2808)
            fields = {
                "address1": f"{district}{rng.choice(_CN_ROADS)}{rng.randint(1, 399)}号",
                "address2": f"{building}栋{unit}单元{room}室",
                "city": city,
                "district": district,
                "province": province,
                "province_code": code,
                "zip": postcode,
            }
        elif country == "US":
            city, state, code, zip_prefix, _ = rng.choice(_US_PLACES)
            fields = {
                "address1": f"{rng.randint(1, 9999)} {rng.choice(_US_STREETS)}",
                "address2": rng.choice(
                    ("", "", "", f"Apt {rng.randint(1, 40)}{rng.choice('ABCD')}")
                ),
                "city": city,
                "district": "",
                "province": state,
                "province_code": code,
                "zip": f"{zip_prefix}{rng.randint(0, 99):02d}",
            }
        else:
            city, part, postcode = rng.choice(_UK_PLACES)
            fields = {
                "address1": f"{rng.randint(1, 250)} {rng.choice(_UK_STREETS)}",
                "address2": rng.choice(("", "", f"Flat {rng.randint(1, 12)}")),
                "city": city,
                "district": "",
                "province": part,
                "province_code": "",
                "zip": postcode,
            }
        if rng.random() < 0.03:
            # The untidy few: a missing city, a placeholder street, a postcode left out.
            flaw = rng.randint(0, 3)
            if flaw == 0:
                fields["city"] = ""
            elif flaw == 1:
                fields["address1"] = "TBD"
            elif flaw == 2:
                fields["address1"], fields["address2"] = "?", ""
            else:
                fields["zip"] = ""
        return Address(
            first_name=buyer.first_name,
            last_name=buyer.last_name,
            name=buyer.full_name,
            country_code=country,
            phone=buyer.phone,
            **fields,
        )


def advance(
    shop: Shop,
    order: Order,
    action: str,
    *,
    at: datetime,
    amount: int | None = None,
    items: int | None = None,
) -> None:
    """Move an order one step in its life; the caller re-indexes it under its new update time.

    ``fulfill`` and ``ship`` send every unshipped item, or only ``items`` of them (a partial
    fulfilment). ``cancel`` refunds whatever was paid; ``refund`` refunds ``amount``, or all
    that is left. Raises OrderConflict for an event the order's state does not allow.
    """
    if action not in ACTIONS:
        raise OrderConflict(f"unknown action {action!r}")
    if order.cancelled_at and action != "refund":
        raise OrderConflict("the order is cancelled")
    if action == "pay":
        if order.paid_at:
            raise OrderConflict("the order is already paid")
        order.paid_at = at
    elif action in ("fulfill", "ship"):
        remaining = order.items - order.items_shipped
        if remaining <= 0:
            raise OrderConflict("every item is already shipped")
        budget = remaining if items is None else max(1, min(items, remaining))
        for line in order.lines:
            sent = min(line.quantity - line.shipped, budget)
            line.shipped += sent
            budget -= sent
        if order.items_shipped >= order.items:
            order.fulfilled_at = at
    elif action == "deliver":
        if order.items_shipped < order.items or order.delivered_at:
            raise OrderConflict("only a shipped, undelivered order can be delivered")
        order.delivered_at = at
    elif action == "cancel":
        order.cancelled_at = at
        order.cancel_reason = "customer"
        if order.refundable > 0:
            _refund(shop, order, order.refundable, at, "Order cancelled")
    else:
        refundable = order.refundable
        wanted = refundable if amount is None else amount
        if refundable <= 0:
            raise OrderConflict("nothing left to refund")
        if not 0 < wanted <= refundable:
            raise OrderConflict(
                f"a refund must be more than 0 and at most {refundable} minor units"
            )
        _refund(shop, order, wanted, at, "Customer request" if wanted < refundable else "Returned")


def _refund(shop: Shop, order: Order, amount: int, at: datetime, note: str) -> None:
    """Record a refund; refunding everything left also returns every item not yet returned."""
    refund = Refund(id=shop.allocate("refund"), created_at=at, amount=amount, note=note)
    if amount == order.refundable:
        returned = dict.fromkeys((line.id for line in order.lines), 0)
        for earlier in order.refunds:
            for line_id, quantity in earlier.lines:
                returned[line_id] += quantity
        refund.lines = [
            (line.id, line.quantity - returned[line.id])
            for line in order.lines
            if line.quantity > returned[line.id]
        ]
    order.refunds.append(refund)
