"""What the benchmarks share: a throwaway database per backend, tenants and shops, and tables.

Every benchmark builds its schema from the migrations, exactly as production does. On SQLite the
database is a file in a temporary directory; on PostgreSQL it is a database
``daiyun_bench_<pid>`` created on the server named by ``--postgres-url`` (a superuser, by default
``postgres`` on 127.0.0.1:5432), migrated as that owner, used as the ``daiyun_app`` role (which
owns nothing and is subject to row-level security, as in production), and dropped at the end.

Settings are read from ``DAIYUN_*`` variables, so :func:`prepare_environment` must run before
anything imports the Celery app (``daiyun.core.tasks``); the scripts therefore import the
application inside their functions.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BACKENDS = ("sqlite", "postgresql")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
APP_ROLE = "daiyun_app"
SECRET_KEY = "bench-only-secret-key"

SHOPIFY_CREDENTIALS: dict[str, Any] = {
    "shop_domain": "bench.myshopify.com",
    "access_token": "shpat_bench",
    "api_secret": "bench-webhook-secret",
}


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        choices=(*BACKENDS, "both"),
        default="both",
        help="which database to measure on (default: both, one after the other)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a PostgreSQL server reachable as a superuser (default: $BENCH_POSTGRES_URL or "
        f"{DEFAULT_POSTGRES_URL})",
    )


def exit_on_sigterm() -> None:
    """Unwind on SIGTERM as on Ctrl-C, so the throwaway database and files are removed."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def backends(choice: str) -> list[str]:
    return list(BACKENDS) if choice == "both" else [choice]


def prepare_environment(workdir: Path) -> dict[str, str]:
    """Point settings at throwaway files (the broker, no ./var) before Daiyun is imported."""
    values = {
        "DAIYUN_BROKER_URL": f"sqla+sqlite:///{workdir / 'broker.sqlite'}",
        "DAIYUN_SECRET_KEY": SECRET_KEY,
        "DAIYUN_ENCRYPTION_KEYS": "",
        # The sandbox marketplaces the benchmarks start listen here (any port).
        "DAIYUN_MARKETPLACE_HOSTS": "127.0.0.1",
    }
    os.environ.update(values)
    _reload_settings()
    return values


def _reload_settings() -> None:
    from daiyun.core.config import get_settings

    get_settings.cache_clear()


@dataclass(frozen=True)
class Database:
    """A migrated throwaway database: the owner's URL and the one the application uses."""

    backend: str
    owner_url: str
    app_url: str

    @property
    def env(self) -> dict[str, str]:
        """The variables a child process needs to use this database."""
        return {
            "DAIYUN_DATABASE_URL": self.app_url,
            "DAIYUN_MIGRATION_DATABASE_URL": self.owner_url,
        }


def _migrate(owner_url: str, app_url: str) -> None:
    from alembic import command

    from daiyun.cli import alembic_config

    command.upgrade(alembic_config(owner_url, app_url), "head")


def _admin_engine(server_url: str) -> Any:
    from sqlalchemy.engine import make_url

    from daiyun.core.db import make_engine

    server = make_url(server_url).set(database="postgres")
    return make_engine(server.render_as_string(False), isolation_level="AUTOCOMMIT", pool_size=1)


class AnalyzeStandIn:
    """Stands in for autovacuum's ANALYZE on a server where autovacuum is off.

    Without statistics ever being gathered, a plan PostgreSQL caches in a pooled connection while
    a table is empty (the foreign-key check of ``order_lines`` against ``orders``, say) is never
    replanned, and each insert then scans the whole growing table. A default server analyzes a
    table once ``autovacuum_analyze_threshold + autovacuum_analyze_scale_factor * reltuples``
    rows have changed; this thread applies the same rule, checked every ``interval`` seconds.
    """

    def __init__(self, owner_url: str, interval: float = 10.0) -> None:
        from daiyun.core.db import make_engine

        self.engine = make_engine(owner_url, isolation_level="AUTOCOMMIT", pool_size=1)
        self.interval = interval
        self.analyzed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="analyze-stand-in", daemon=True)

    @staticmethod
    def needed(server_url: str) -> bool:
        from sqlalchemy import text

        admin = _admin_engine(server_url)
        try:
            with admin.connect() as connection:
                return connection.execute(text("show autovacuum")).scalar() != "on"
        finally:
            admin.dispose()

    def _run(self) -> None:
        from sqlalchemy import text

        due = text(
            "select format('%I.%I', s.schemaname, s.relname)"
            " from pg_stat_user_tables s join pg_class c on c.oid = s.relid"
            " where s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::int"
            " + current_setting('autovacuum_analyze_scale_factor')::float8"
            " * greatest(c.reltuples, 0)"
        )
        while not self._stop.wait(self.interval):
            with self.engine.connect() as connection:
                for table in connection.execute(due).scalars().all():
                    connection.execute(text(f"analyze {table}"))
                    self.analyzed += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()


@contextmanager
def database(
    backend: str, workdir: Path, postgres_url: str, *, analyze: bool = True
) -> Iterator[Database]:
    """Create and migrate a throwaway database, make it the application's, drop it afterwards.

    On a PostgreSQL server with autovacuum off, ``analyze`` runs :class:`AnalyzeStandIn` for the
    database's lifetime (and says so), so the figures are those of a default server.
    """
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from daiyun.core import db

    name = f"daiyun_bench_{os.getpid()}"
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'{name}.sqlite'}"
        target = Database("sqlite", url, url)
    else:
        admin = _admin_engine(postgres_url)
        with admin.connect() as connection:
            connection.execute(text(f'drop database if exists "{name}" with (force)'))
            connection.execute(text(f'create database "{name}"'))
        owner = make_url(postgres_url).set(database=name)
        app = owner.set(username=APP_ROLE, password=None)
        target = Database("postgresql", owner.render_as_string(False), app.render_as_string(False))
    os.environ.update(target.env)
    _reload_settings()
    engine = None
    stand_in = None
    try:
        _migrate(target.owner_url, target.app_url)
        engine = db.make_engine(target.app_url)
        db.configure(engine)
        if backend == "postgresql" and analyze and AnalyzeStandIn.needed(postgres_url):
            print(
                "[postgresql] autovacuum is off on this server: a thread runs ANALYZE on the "
                "benchmark's tables by autovacuum's default thresholds (checked every 10 s)",
                flush=True,
            )
            stand_in = AnalyzeStandIn(target.owner_url)
            stand_in.start()
        yield target
    finally:
        if stand_in is not None:
            stand_in.stop()
            print(f"[postgresql] the ANALYZE stand-in analyzed {stand_in.analyzed} table(s)")
        if engine is not None:
            engine.dispose()
        if backend == "postgresql":
            with admin.connect() as connection:
                connection.execute(text(f'drop database if exists "{name}" with (force)'))
            admin.dispose()
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{workdir / name}.sqlite{suffix}").unlink(missing_ok=True)


def new_tenant(label: str) -> uuid.UUID:
    """A fresh merchant, committed."""
    from daiyun.core.db import unit_of_work
    from daiyun.tenants import service as tenant_service
    from daiyun.tenants.schemas import TenantCreate

    slug = f"{label}-{uuid.uuid4().hex[:8]}"
    with unit_of_work() as session:
        tenant = tenant_service.create_tenant(
            session, TenantCreate(slug=slug, display_name=slug, legal_name=f"{slug} Ltd")
        )
        return tenant.id


def new_shop(
    tenant_id: uuid.UUID,
    external_id: str,
    credentials: dict[str, Any] | None = None,
    api_base_url: str | None = None,
) -> tuple[uuid.UUID, str]:
    """A connected Shopify shop of the tenant, committed: its id and webhook key."""
    from daiyun.connectors import service as shop_service
    from daiyun.connectors.schemas import ShopCreate
    from daiyun.core.db import unit_of_work

    body = ShopCreate(
        channel="shopify",
        name=f"Bench {external_id}",
        external_id=external_id,
        credentials=credentials or SHOPIFY_CREDENTIALS,
        api_base_url=api_base_url,  # type: ignore[arg-type]
    )
    with unit_of_work(tenant_id) as session:
        shop = shop_service.connect(session, body)
        return shop.id, shop.webhook_key


def bench_skus(tenant_id: uuid.UUID, count: int, prefix: str) -> list[tuple[uuid.UUID, str]]:
    """``count`` SKUs costing 10.00 CNY each (codes ``PREFIX-000000`` up): their ids and codes."""
    from daiyun.core.db import unit_of_work
    from daiyun.platform.storefront import service
    from daiyun.platform.storefront.schemas import ProductCreate, SkuCreate

    skus: list[tuple[uuid.UUID, str]] = []
    for first in range(0, count, 100):
        with unit_of_work(tenant_id) as session:
            product = service.create_product(
                session,
                ProductCreate(
                    name=f"Bench tea {first // 100}",
                    variants=[
                        SkuCreate(code=f"{prefix}-{n:06d}", cost_minor=10_00, currency="CNY")
                        for n in range(first, min(count, first + 100))
                    ],
                ),
            )
            skus += [(v.id, v.code) for v in product.variants]
    return skus


def published_listings(
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    skus: list[tuple[uuid.UUID, str]],
    books: Any,
    store: str,
    price_minor: int,
) -> None:
    """WooCommerce listings as a first publish leaves them: on the sandbox store, their ids
    kept, synced at ``price_minor``."""
    from sqlalchemy import insert

    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import new_id, utcnow
    from daiyun.platform.storefront.listing_rules import ListingState, SyncStatus
    from daiyun.platform.storefront.models import Listing

    now = utcnow()
    rows = []
    for sku_id, code in skus:
        product = books.create("woocommerce", store, code, "Bench tea", "CNY", price_minor)
        rows.append(
            {
                "tenant_id": tenant_id,
                "id": new_id(),
                "sku_id": sku_id,
                "shop_id": shop_id,
                "title": "Bench tea",
                "state": ListingState.published,
                "currency": "CNY",
                "list_price_minor": price_minor,
                "price_overridden": False,
                "external_product_id": product.id,
                "external_sku_id": product.id,
                "published_at": now,
                "sync_status": SyncStatus.synced,
                "sync_attempts": 0,
                "synced_at": now,
                "version": 1,
                "pushed_version": 1,
                "pushed": {"state": "published", "list_price_minor": price_minor},
                "created_at": now,
                "updated_at": now,
            }
        )
    with unit_of_work(tenant_id) as session:
        for first in range(0, len(rows), 1000):
            session.execute(insert(Listing), rows[first : first + 1000])


def count_rows(tenant_id: uuid.UUID, model: Any) -> int:
    """How many rows of a tenant-owned model the tenant has."""
    from sqlalchemy import func, select

    from daiyun.core.db import unit_of_work

    with unit_of_work(tenant_id) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- memory ----------------------------------------------------------------------------------

_PAGE_SIZE = resource.getpagesize()


def rss_bytes() -> int:
    """Resident set size of this process now."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:
        # No procfs: the peak so far is the best available figure (kB on Linux, bytes on macOS).
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class RssSampler:
    """Samples RSS in a thread; ``peak - baseline`` is what the measured work added."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.baseline = rss_bytes()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> RssSampler:
        self.baseline = self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


# --- output ----------------------------------------------------------------------------------


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


def mib(size: float) -> str:
    return f"{size / 2**20:,.1f} MiB"


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}" if seconds > 0 else "n/a"


def ratio(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text table, first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        parts = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "| " + " | ".join(parts) + " |"

    print()
    print(title)
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))
    sys.stdout.flush()


def machine() -> str:
    """One line about where the figures come from."""
    return f"{os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, {sys.platform}"
