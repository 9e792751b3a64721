"""The demo merchants' catalogs (商品目录): what their sandbox shops sell, and what ``daiyun demo``
puts in each merchant's catalog, so every generated order line names a SKU the catalog has.

Three catalogs: tea (Lotus Tea), outdoor gear (North Peak), home goods (Maple Home). Each
product has variants by size or colour (and size), priced in US cents like the sandbox's generic
catalogue (``generator.local_price`` turns that into the shop's currency) with a cost as a share
of that price; each catalog has one bundle (组合商品) of its own SKUs. ``popularity`` weights how
often a SKU is drawn for an order line, so a merchant's portfolio has best sellers and slow ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoSku:
    code: str
    attributes: tuple[tuple[str, str], ...]
    usd_cents: int
    cost_percent: int  # the cost as a share of the price
    popularity: int
    weight_grams: int


@dataclass(frozen=True)
class DemoProduct:
    category: tuple[str, ...]  # from the root down
    name_en: str
    name_zh: str
    brand: str
    skus: tuple[DemoSku, ...]


@dataclass(frozen=True)
class DemoBundle:
    code: str
    name_en: str
    name_zh: str
    category: tuple[str, ...]
    parts: tuple[tuple[str, int], ...]  # (SKU code, quantity)
    usd_cents: int
    popularity: int


@dataclass(frozen=True)
class Catalog:
    products: tuple[DemoProduct, ...]
    bundle: DemoBundle

    def sku(self, code: str) -> DemoSku:
        return next(s for p in self.products for s in p.skus if s.code == code)


def _sizes(
    prefix: str, sizes: list[tuple[str, int, int]], cost: int, grams: int
) -> tuple[DemoSku, ...]:
    """One SKU per (size, price in cents, popularity)."""
    return tuple(
        DemoSku(f"{prefix}-{size.upper()}", (("size", size),), cents, cost, weight, grams)
        for size, cents, weight in sizes
    )


def _colours(
    prefix: str,
    colours: list[tuple[str, str, int]],
    sizes: list[str],
    cents: int,
    cost: int,
    grams: int,
) -> tuple[DemoSku, ...]:
    """One SKU per colour (code, name, popularity) and size (none: colours only)."""
    return tuple(
        DemoSku(
            f"{prefix}-{code}" + (f"-{size}" if size else ""),
            (("colour", name),) + ((("size", size),) if size else ()),
            cents,
            cost,
            weight,
            grams,
        )
        for code, name, weight in colours
        for size in (sizes or [""])
    )


TEA = Catalog(
    products=(
        DemoProduct(
            ("Tea", "Green tea"),
            "West Lake Longjing",
            "西湖龙井",
            "Lotus",
            _sizes("TEA-LJ", [("50g", 1299, 30), ("125g", 2899, 22), ("250g", 4999, 9)], 42, 80),
        ),
        DemoProduct(
            ("Tea", "Green tea"),
            "Biluochun",
            "洞庭碧螺春",
            "Lotus",
            _sizes("TEA-BLC", [("50g", 1099, 8), ("125g", 2499, 5)], 45, 80),
        ),
        DemoProduct(
            ("Tea", "Oolong"),
            "Tieguanyin",
            "安溪铁观音",
            "Lotus",
            _sizes("TEA-TGY", [("100g", 1899, 14), ("250g", 3999, 6)], 40, 130),
        ),
        DemoProduct(
            ("Tea", "Oolong"),
            "Da Hong Pao",
            "武夷大红袍",
            "Lotus",
            _sizes("TEA-DHP", [("100g", 2999, 7), ("250g", 6499, 2)], 38, 130),
        ),
        DemoProduct(
            ("Tea", "Dark tea"),
            "Aged Pu-erh Cake",
            "普洱茶饼",
            "Lotus",
            _sizes("TEA-PU", [("200g", 2599, 6), ("357g", 3899, 11)], 35, 400),
        ),
        DemoProduct(
            ("Tea", "White tea"),
            "Silver Needle",
            "白毫银针",
            "Lotus",
            _sizes("TEA-BHYZ", [("50g", 2199, 3), ("100g", 3999, 2)], 44, 80),
        ),
        DemoProduct(
            ("Tea", "Black tea"),
            "Keemun Black",
            "祁门红茶",
            "Lotus",
            _sizes("TEA-QM", [("100g", 1599, 10), ("250g", 3299, 4)], 41, 130),
        ),
        DemoProduct(
            ("Teaware",),
            "Celadon Tea Cup",
            "青瓷品茗杯",
            "Lotus",
            _colours(
                "CUP-CEL",
                [("GRN", "celadon green", 6), ("BLU", "sky blue", 4), ("WHT", "ivory", 2)],
                [],
                899,
                30,
                150,
            ),
        ),
        DemoProduct(
            ("Teaware",),
            "Yixing Clay Teapot",
            "宜兴紫砂壶",
            "Lotus",
            _sizes("POT-YX", [("150ml", 6800, 3), ("250ml", 8800, 2)], 33, 450),
        ),
        DemoProduct(
            ("Teaware",),
            "Bamboo Tea Tray",
            "竹制茶盘",
            "Lotus",
            _sizes("TRAY-BB", [("S", 2999, 2), ("L", 4599, 1)], 36, 1200),
        ),
    ),
    bundle=DemoBundle(
        "SET-LJ-GIFT",
        "Longjing Gift Set (tea and two cups)",
        "龙井礼盒（茶叶配两只品茗杯）",
        ("Tea", "Gift sets"),
        (("TEA-LJ-125G", 1), ("CUP-CEL-GRN", 2)),
        3999,
        5,
    ),
)

OUTDOOR = Catalog(
    products=(
        DemoProduct(
            ("Clothing", "Jackets"),
            "Ridge Rain Jacket",
            "山脊防水冲锋衣",
            "North Peak",
            _colours(
                "JKT-RDG",
                [("BLK", "black", 8), ("RED", "red", 4), ("OLV", "olive", 3)],
                ["S", "M", "L", "XL"],
                12900,
                38,
                480,
            ),
        ),
        DemoProduct(
            ("Clothing", "Base layers"),
            "Merino Base Layer Top",
            "美利奴羊毛打底衫",
            "North Peak",
            _colours(
                "BASE-MER",
                [("GRY", "grey", 6), ("NVY", "navy", 4)],
                ["S", "M", "L"],
                6900,
                35,
                220,
            ),
        ),
        DemoProduct(
            ("Camping", "Tents"),
            "Trail 2 Tent",
            "徒步双人帐篷",
            "North Peak",
            _colours(
                "TENT-TR2", [("GRN", "forest green", 5), ("ORG", "orange", 2)], [], 19900, 45, 2100
            ),
        ),
        DemoProduct(
            ("Camping", "Sleeping"),
            "Down Sleeping Bag",
            "羽绒睡袋",
            "North Peak",
            _sizes("BAG-DWN", [("REG", 17900, 4), ("LONG", 19900, 2)], 44, 1100),
        ),
        DemoProduct(
            ("Camping", "Cooking"),
            "Titanium Camp Stove",
            "钛合金炉头",
            "North Peak",
            _sizes("STOVE-TI", [("ONE", 4900, 9)], 30, 90),
        ),
        DemoProduct(
            ("Packs",),
            "Summit Daypack",
            "登顶日用背包",
            "North Peak",
            _colours(
                "PACK-SUM",
                [("BLK", "black", 7), ("BLU", "blue", 4)],
                ["22L", "30L"],
                8900,
                36,
                800,
            ),
        ),
        DemoProduct(
            ("Accessories",),
            "Trekking Poles (pair)",
            "登山杖（一对）",
            "North Peak",
            _sizes("POLE-TRK", [("ONE", 5900, 3)], 32, 500),
        ),
    ),
    bundle=DemoBundle(
        "SET-CAMP-2P",
        "Two-Person Camp Kit (tent, stove)",
        "双人露营套装（帐篷与炉头）",
        ("Camping", "Kits"),
        (("TENT-TR2-GRN", 1), ("STOVE-TI-ONE", 1)),
        22900,
        2,
    ),
)

HOME = Catalog(
    products=(
        DemoProduct(
            ("Bedding",),
            "Mulberry Silk Pillowcase",
            "桑蚕丝枕套",
            "Maple",
            _colours(
                "PIL-SLK",
                [("WHT", "white", 9), ("PNK", "blush", 5), ("GRY", "grey", 4)],
                ["STD", "KING"],
                3999,
                37,
                120,
            ),
        ),
        DemoProduct(
            ("Bedding",),
            "Washed Linen Duvet Cover",
            "水洗亚麻被套",
            "Maple",
            _colours(
                "DUV-LIN",
                [("NAT", "natural", 4), ("SAG", "sage", 3)],
                ["150", "200"],
                8900,
                40,
                1300,
            ),
        ),
        DemoProduct(
            ("Lighting",),
            "Paper Lantern Table Lamp",
            "纸灯笼台灯",
            "Maple",
            _sizes("LAMP-PL", [("S", 2750, 8), ("L", 3950, 3)], 34, 900),
        ),
        DemoProduct(
            ("Kitchen",),
            "Bamboo Chopsticks (10 pairs)",
            "竹筷（10双装）",
            "Maple",
            _sizes("CHOP-BB", [("10P", 799, 12)], 25, 200),
        ),
        DemoProduct(
            ("Kitchen",),
            "Ceramic Rice Bowl",
            "陶瓷饭碗",
            "Maple",
            _colours(
                "BOWL-CER",
                [("WHT", "white", 6), ("BLU", "indigo", 4), ("GRN", "celadon", 2)],
                [],
                1299,
                30,
                350,
            ),
        ),
        DemoProduct(
            ("Storage",),
            "Rattan Storage Basket",
            "藤编收纳篮",
            "Maple",
            _sizes("BSK-RAT", [("S", 1999, 4), ("M", 2799, 3), ("L", 3699, 1)], 35, 600),
        ),
    ),
    bundle=DemoBundle(
        "SET-BOWL-4",
        "Rice Bowl Set of Four",
        "饭碗四件套",
        ("Kitchen", "Sets"),
        (("BOWL-CER-WHT", 2), ("BOWL-CER-BLU", 2)),
        4499,
        3,
    ),
)

CATALOGS = {"lotus-tea": TEA, "north-peak": OUTDOOR, "maple-home": HOME}
# The demo's sandbox shops (``daiyun.demo.SHOPS``) and the merchant each belongs to.
SHOP_MERCHANTS = {
    "lotus-tea.myshopify.com": "lotus-tea",
    "lotus-tea-store": "lotus-tea",
    "lotus-tea-tmall": "lotus-tea",
    "A2NORTHPEAK": "north-peak",
    "4463798": "maple-home",
    "maple-home.myshopify.com": "maple-home",
}


def sold_items(catalog: Catalog) -> list[tuple[str, str, str, int, int]]:
    """(code, English title, Chinese title, price in US cents, popularity) of every SKU a shop
    of this catalog sells, the bundle last."""
    items = []
    for product in catalog.products:
        for sku in product.skus:
            detail = " / ".join(value for _, value in sku.attributes)
            items.append(
                (
                    sku.code,
                    f"{product.name_en} ({detail})",
                    f"{product.name_zh}（{detail}）",
                    sku.usd_cents,
                    sku.popularity,
                )
            )
    b = catalog.bundle
    items.append((b.code, b.name_en, b.name_zh, b.usd_cents, b.popularity))
    return items


def catalog_of_shop(shop_name: str) -> Catalog | None:
    """The catalog a sandbox shop sells from: a demo merchant's, or None (the generic one)."""
    merchant = SHOP_MERCHANTS.get(shop_name)
    return CATALOGS[merchant] if merchant else None
