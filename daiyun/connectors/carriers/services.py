"""The four carriers Daiyun ships with, and the one named by a carrier code.

Each is the e-waybill service of its carrier: SF Express (顺丰), ZTO (中通), YTO (圆通) and JD
Logistics (京东物流). The real services each have their own open platform, signing and field
names (SF's 丰桥 ``EXP_RECE_CREATE_ORDER``, ZTO's ``zto.open.createOrder``, YTO's 圆通开放平台,
JD's ``ldop.waybill.receive``; all UNCONFIRMED beyond their names); Daiyun talks to them through
one wire (the carrier sandbox's), so a real integration replaces :meth:`Carrier._call` per
carrier and keeps the interface.
"""

from __future__ import annotations

import re
from typing import ClassVar

from daiyun.connectors.carriers.base import Carrier, CarrierRefused
from daiyun.connectors.http import ShopHttp
from daiyun.core.config import get_settings


class SfExpress(Carrier):
    code: ClassVar[str] = "sf"
    name_en: ClassVar[str] = "SF Express"
    name_zh: ClassVar[str] = "顺丰速运"
    waybill_pattern: ClassVar[re.Pattern[str]] = re.compile(r"^SF\d{13}$")
    tracking_url: ClassVar[str] = (
        "https://www.sf-express.com/chn/en/waybill/waybill-detail/{number}"
    )


class Zto(Carrier):
    code: ClassVar[str] = "zto"
    name_en: ClassVar[str] = "ZTO Express"
    name_zh: ClassVar[str] = "中通快递"
    # UNCONFIRMED: ZTO also issues 14-digit numbers; the sandbox issues 12 starting with 7.
    waybill_pattern: ClassVar[re.Pattern[str]] = re.compile(r"^7\d{11}(\d{2})?$")
    tracking_url: ClassVar[str] = "https://www.zto.com/?num={number}"


class Yto(Carrier):
    code: ClassVar[str] = "yto"
    name_en: ClassVar[str] = "YTO Express"
    name_zh: ClassVar[str] = "圆通速递"
    waybill_pattern: ClassVar[re.Pattern[str]] = re.compile(r"^YT\d{13}$")
    tracking_url: ClassVar[str] = "https://www.yto.net.cn/?num={number}"


class JdLogistics(Carrier):
    code: ClassVar[str] = "jd"
    name_en: ClassVar[str] = "JD Logistics"
    name_zh: ClassVar[str] = "京东物流"
    # UNCONFIRMED: JDVA/JDVB/JDVC prefixes exist besides JDV + digits.
    waybill_pattern: ClassVar[re.Pattern[str]] = re.compile(r"^JDV[A-C]?\d{12}$")
    tracking_url: ClassVar[str] = "https://www.jdl.com/orderSearch/?waybillCodes={number}"


CARRIERS: dict[str, type[Carrier]] = {c.code: c for c in (SfExpress, Zto, Yto, JdLogistics)}
CARRIER_CODES = tuple(CARRIERS)


def carrier_for(code: str, http: ShopHttp | None = None) -> Carrier:
    """The carrier of ``code`` at the configured service; refused when the code is unknown or
    no service is configured (both are permanent until someone changes them)."""
    cls = CARRIERS.get(code)
    if cls is None:
        raise CarrierRefused(f"no carrier {code!r} (known: {', '.join(CARRIER_CODES)})", "config")
    settings = get_settings()
    if not settings.carrier_url or not settings.carrier_api_key:
        raise CarrierRefused("DAIYUN_CARRIER_URL and DAIYUN_CARRIER_API_KEY are not set", "config")
    return cls(settings.carrier_url, settings.carrier_api_key, http)
