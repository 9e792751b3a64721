"""Which warehouse is nearest a buyer: same city, then same province, then the same region of
China (华东, 华南, ...), then the same country, then the rest. Addresses come from marketplaces
and operators in Chinese or pinyin, with or without 省/市/自治区, so places are compared by a
normalised name, never as typed. No coordinates: parcels travel by carrier zones, which follow
provinces and regions, and the agency's warehouses are few, so the tiers decide and the
warehouse's priority breaks ties.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

# The provinces of each region, as carriers zone them: pinyin first, then the Chinese name.
REGIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "east": (
        ("shanghai", "上海"),
        ("jiangsu", "江苏"),
        ("zhejiang", "浙江"),
        ("anhui", "安徽"),
        ("fujian", "福建"),
        ("jiangxi", "江西"),
        ("shandong", "山东"),
    ),
    "south": (("guangdong", "广东"), ("guangxi", "广西"), ("hainan", "海南")),
    "central": (("henan", "河南"), ("hubei", "湖北"), ("hunan", "湖南")),
    "north": (
        ("beijing", "北京"),
        ("tianjin", "天津"),
        ("hebei", "河北"),
        ("shanxi", "山西"),
        ("neimenggu", "内蒙古"),
    ),
    "southwest": (
        ("chongqing", "重庆"),
        ("sichuan", "四川"),
        ("guizhou", "贵州"),
        ("yunnan", "云南"),
        ("xizang", "西藏"),
    ),
    "northwest": (
        ("shaanxi", "陕西"),
        ("gansu", "甘肃"),
        ("qinghai", "青海"),
        ("ningxia", "宁夏"),
        ("xinjiang", "新疆"),
    ),
    "northeast": (("liaoning", "辽宁"), ("jilin", "吉林"), ("heilongjiang", "黑龙江")),
}
# Chinese names a province also goes by, and English forms marketplaces send.
ALIASES = {
    "内蒙古自治区": "neimenggu",
    "inner mongolia": "neimenggu",
    "广西壮族自治区": "guangxi",
    "西藏自治区": "xizang",
    "tibet": "xizang",
    "宁夏回族自治区": "ningxia",
    "新疆维吾尔自治区": "xinjiang",
}
PROVINCES = {name: pinyin for members in REGIONS.values() for pinyin, name in members} | ALIASES
REGION_OF = {pinyin: region for region, members in REGIONS.items() for pinyin, _ in members}
# Administrative suffixes dropped before comparing (longest first).
SUFFIXES = ("特别行政区", "自治区", "自治州", "省", "市", "区", "县", " province", " city")

SAME_CITY, SAME_PROVINCE, SAME_REGION, SAME_COUNTRY, ELSEWHERE = range(5)


def _name(value: Any) -> str:
    text = re.sub(r"\s+", " ", str(value or "")).strip().lower()
    for suffix in SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)].strip()
    return text


def _province(value: Any) -> str:
    """A province's canonical (pinyin) name, or the name as normalised when unknown."""
    raw = str(value or "").strip().lower()
    if raw in ALIASES:
        return ALIASES[raw]
    name = _name(value)
    return PROVINCES.get(name, name.replace(" ", ""))


def distance(destination: Mapping[str, Any], site: Mapping[str, Any]) -> int:
    """How far ``site`` (a warehouse's address) is from ``destination``: a tier, lower nearer."""
    country = _name(destination.get("country")) or "cn"
    if (_name(site.get("country")) or "cn") != country:
        return ELSEWHERE
    province = _province(destination.get("province"))
    if not province:
        return SAME_COUNTRY
    here = _province(site.get("province"))
    if here == province:
        city = _name(destination.get("city"))
        return SAME_CITY if city and city == _name(site.get("city")) else SAME_PROVINCE
    if (
        country == "cn"
        and REGION_OF.get(province)
        and REGION_OF.get(province) == REGION_OF.get(here)
    ):
        return SAME_REGION
    return SAME_COUNTRY


def rank(
    sites: Sequence[tuple[uuid.UUID, Mapping[str, Any]]], destination: Mapping[str, Any] | None
) -> list[uuid.UUID]:
    """The warehouses nearest ``destination`` first; ``sites`` come in priority order, which
    breaks ties (and is kept whole when the order has no address)."""
    if not destination:
        return [site_id for site_id, _ in sites]
    ordered = sorted(enumerate(sites), key=lambda s: (distance(destination, s[1][1]), s[0]))
    return [site_id for _, (site_id, _) in ordered]
