"""Screenshots of the portal's main pages for the docs (docs/screenshots/*.png).

Run by hand when the pages change:  .venv/bin/python scripts/screenshots.py

It seeds the demo agency (``daiyun demo``) plus a few weeks of orders into a throwaway SQLite
database, serves the app on a free loopback port, and drives the system's Chromium (``chromium``
on PATH, or ``DAIYUN_CHROMIUM``) with Playwright.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PRODUCTS = [
    ("LJ-250", "西湖龙井 250g", 16800),
    ("BLC-100", "碧螺春 100g", 8800),
    ("PE-357", "普洱饼茶 357g", 26800),
    ("TG-SET", "茶具礼盒", 45800),
    ("JH-50", "杭白菊 50g", 3900),
]
CITIES = [
    ("浙江省", "杭州市", "西湖区"),
    ("上海市", "上海市", "徐汇区"),
    ("广东省", "深圳市", "南山区"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _seed(now: datetime) -> None:
    """The demo agency, then orders on Lotus Tea's shops over the last six weeks."""
    from sqlalchemy import select

    from daiyun.billing import service as billing
    from daiyun.billing.facts import Period
    from daiyun.cli import run_migrations
    from daiyun.connectors.models import Shop
    from daiyun.core.db import unit_of_work
    from daiyun.demo import seed
    from daiyun.platform.orders import service as orders
    from daiyun.platform.orders.normalized import (
        Address,
        NormalizedLine,
        NormalizedOrder,
        NormalizedRefund,
        OrderStatus,
    )
    from daiyun.platform.reports import service as reports
    from daiyun.tenants.models import Tenant

    run_migrations()
    seed()
    rng = random.Random(2026)  # the same pictures every run  # noqa: S311
    with unit_of_work() as session:
        tenants = {t.slug: t for t in session.scalars(select(Tenant))}
    for slug in ("lotus-tea", "maple-home"):
        tenant = tenants[slug]
        with unit_of_work(tenant.id) as session:
            shops = [(s.id, s.channel) for s in session.scalars(select(Shop))]
        for n in range(70 if slug == "lotus-tea" else 30):
            shop_id, channel = shops[n % len(shops)]
            placed = now - timedelta(days=rng.uniform(0, 45), hours=rng.uniform(0, 6))
            sku, title, price = rng.choice(PRODUCTS)
            quantity = rng.choice([1, 1, 1, 2, 3])
            total = price * quantity
            province, city, district = rng.choice(CITIES)
            held = n % 17 == 5
            phone = "12345" if held else f"+86138{rng.randrange(10**8):08d}"
            status = rng.choice(
                [OrderStatus.paid, OrderStatus.shipped, OrderStatus.delivered, OrderStatus.paid]
            )
            refunds = (
                [NormalizedRefund(f"{slug}-{n}-r", price, placed + timedelta(days=2))]
                if n % 11 == 3
                else []
            )
            buyer = rng.choice(["王小明", "李华", "张伟", "刘芳", "陈静"])
            order = NormalizedOrder(
                external_id=f"{'LT' if slug == 'lotus-tea' else 'MH'}{202600 + n}",
                status=status,
                channel_status=status.value,
                currency="CNY",
                total_minor=total,
                subtotal_minor=total,
                placed_at=placed,
                paid_at=placed + timedelta(minutes=3),
                source_updated_at=placed + timedelta(minutes=10),
                source_offset_minutes=480,
                buyer_name=buyer,
                buyer_email=f"buyer{n}@example.com",
                buyer_phone=phone,
                shipping_address=Address(
                    name=buyer,
                    phone=phone,
                    country="CN",
                    province=province,
                    city=city,
                    district=district,
                    address1=f"文三路 {rng.randrange(1, 400)} 号",
                    postal_code="310012",
                ),
                lines=[
                    NormalizedLine(
                        external_id=f"{slug}-{n}-1",
                        sku=sku,
                        title=title,
                        quantity=quantity,
                        unit_price_minor=price,
                    )
                ],
                refunds=refunds,
                raw={"id": n},
            )
            with unit_of_work(tenant.id) as session:
                orders.ingest(session, shop_id, channel, [order])
        with unit_of_work(tenant.id) as session:
            reports.rebuild(session, tenant)
        last_month = (now.replace(day=1) - timedelta(days=1)).date()
        with unit_of_work(tenant.id) as session:
            billing.generate(session, Period(last_month.year, last_month.month))


def main() -> int:
    chromium = os.environ.get("DAIYUN_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        print("Chromium not found: apt-get install chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="daiyun-shots-"))
    port = _free_port()
    os.environ.update(
        DAIYUN_DATABASE_URL=f"sqlite:///{work / 'daiyun.sqlite'}",
        DAIYUN_BROKER_URL=f"sqla+sqlite:///{work / 'broker.sqlite'}",
        DAIYUN_BASE_URL=f"http://127.0.0.1:{port}",
        DAIYUN_LOG_LEVEL="WARNING",
    )
    now = datetime.now(UTC)
    _seed(now)
    log = (work / "api.log").open("wb")
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "daiyun.cli", "api", "--port", str(port)],
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium, args=ARGS)
            shots = _take(browser, base)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    for name in shots:
        print(OUT / f"{name}.png")
    return 0


def _take(browser: object, base: str) -> list[str]:
    from playwright.sync_api import Browser, Page

    from daiyun.demo import DEMO_DOMAIN, DEMO_PASSWORD

    assert isinstance(browser, Browser)
    taken: list[str] = []

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
        taken.append(name)

    def session(email: str) -> Page:
        context = browser.new_context(
            base_url=base, viewport={"width": 1280, "height": 800}, locale="en-US"
        )
        page = context.new_page()
        page.goto("/portal/login")
        page.fill("#email", email)
        page.fill("#password", DEMO_PASSWORD)
        with page.expect_navigation():
            page.click("form[action='/portal/login'] button[type=submit]")
        return page

    anonymous = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
    login = anonymous.new_page()
    login.goto("/portal/login")
    shot(login, "sign-in")

    owner = session(f"owner.lotus-tea@{DEMO_DOMAIN}")
    shot(owner, "dashboard")
    owner.goto("/portal/t/lotus-tea/orders")
    shot(owner, "orders")
    owner.click("table tbody th[scope=row] a >> nth=0")
    shot(owner, "order-detail")
    owner.goto("/portal/t/lotus-tea/statements")
    owner.click("table tbody a[href*='/statements/']:not([download]) >> nth=0")
    shot(owner, "statement")

    admin = session(f"admin@{DEMO_DOMAIN}")
    shot(admin, "console-overview")
    admin.goto("/portal/console/review")
    shot(admin, "review-queue")
    admin.goto("/portal/console/sync")
    shot(admin, "sync-health")
    return taken


if __name__ == "__main__":
    sys.exit(main())
