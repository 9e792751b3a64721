"""The ``daiyun`` command, run the way an operator runs it: a process in a scratch directory.

Each test gets its own working directory and no ``DAIYUN_*`` settings, so the command runs on
the embedded defaults there: ``./var/daiyun.sqlite`` and the SQLite broker ``./var/broker.sqlite``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from daiyun.core import db, periods
from daiyun.core.tasks import QUEUES
from daiyun.demo import DEMO_PASSWORD, MERCHANT_USERS, STAFF, TENANTS
from daiyun.sandboxes.marketplaces.catalogs import CATALOGS
from daiyun.tenants.auth.passwords import verify_password
from daiyun.tenants.auth.permissions import STAFF_ROLES, Role
from tests.conftest import APP_ROLE, PG_URL, ROOT

ADMIN_PASSWORD = "a long enough password"
READY_SECONDS = 60.0
STOP_SECONDS = 40.0


@dataclass
class Run:
    code: int
    out: str
    err: str


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAIYUN_")}
    # The checkout under test, whatever is installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def daiyun(workdir: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> Run:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "daiyun.cli", *args],
        cwd=workdir,
        env=_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        # A guard against a hang, not a speed check: the demo on PostgreSQL under row security
        # seeds every department and takes a couple of minutes on a 2-CPU machine.
        timeout=360,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(run: Run, *fragments: str) -> None:
    assert run.code != 0, run
    assert "Traceback" not in run.err + run.out
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("error: "), run.err
    for fragment in fragments:
        assert fragment in lines[0], run.err


def query(workdir: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(workdir / "var" / "daiyun.sqlite") as connection:
        return connection.execute(sql).fetchall()


def counts(workdir: Path) -> dict[str, int]:
    tables = ("tenants", "users", "memberships", "audit_log")
    return {t: int(query(workdir, f"select count(*) from {t}")[0][0]) for t in tables}


def logins_block(output: str) -> list[str]:
    """The table of logins the demo prints, from its header to the blank line after it."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("EMAIL"))
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    return lines[start:end]


# --- migrate, demo ---------------------------------------------------------------------------


def test_migrate_builds_the_schema_in_the_working_directory(workdir: Path) -> None:
    run = daiyun(workdir, "migrate")
    assert run.code == 0, run
    assert "is at revision" in run.out
    assert (workdir / "var" / "daiyun.sqlite").is_file()
    assert query(workdir, "select version_num from alembic_version")
    # Again: already at head, nothing to do, same answer.
    assert daiyun(workdir, "migrate").out == run.out


@pytest.mark.long
def test_demo_seeds_every_role_and_a_second_run_changes_nothing(workdir: Path) -> None:
    assert daiyun(workdir, "migrate").code == 0
    first = daiyun(workdir, "demo")
    assert first.code == 0, first
    assert "Created the demo agency" in first.out
    after_first = counts(workdir)
    # After-sales cases along the path for each merchant, the restocked return in the ledger.
    states = {s for (s,) in query(workdir, "select distinct state from as_cases")}
    assert {"requested", "awaiting_return", "refunded", "closed", "refused"} <= states
    returned = "select count(*) from stock_ledger where kind = 'return'"
    assert query(workdir, returned)[0][0] >= len(TENANTS)
    # Follow-ups of delivered orders for each merchant, some done with what the buyer said.
    followed = "select state, outcome, rule from as_followups"
    rows = query(workdir, followed)
    assert {"open", "done"} <= {r[0] for r in rows}
    assert {"satisfied", "repurchase_intent"} <= {r[1] for r in rows}
    assert "high_value" in {r[2] for r in rows}

    # Three active merchants in Shanghai time, each in its own currency (North Peak sells in USD).
    tenants = query(workdir, "select slug, status, time_zone, default_currency from tenants")
    assert sorted(tenants) == sorted(
        (t.slug, "active", "Asia/Shanghai", t.currency) for t in TENANTS
    )
    assert {t.slug: t.currency for t in TENANTS}["north-peak"] == "USD"
    # Rates for every day the sandbox's orders fall on, so USD sales convert.
    assert query(workdir, "select count(*) from exchange_rates")[0][0] > 90
    # Every staff role once, one agency admin, an owner and a viewer per merchant.
    roles = [r for (r,) in query(workdir, "select role from users")]
    assert sorted(roles) == sorted(
        [Role.agency_admin.value]
        + [r.value for r in STAFF_ROLES]
        + [Role.merchant_owner.value, Role.merchant_viewer.value] * len(TENANTS)
    )
    per_tenant = query(
        workdir,
        "select t.slug, u.role from memberships m join tenants t on t.id = m.tenant_id"
        " join users u on u.id = m.user_id",
    )
    for spec in TENANTS:
        here = sorted(role for slug, role in per_tenant if slug == spec.slug)
        assert here.count(Role.merchant_owner.value) == 1
        assert here.count(Role.merchant_viewer.value) == 1
    expected_assignments = {(slug, u.role.value) for u in STAFF for slug in u.tenants}
    assert {
        (slug, role) for slug, role in per_tenant if role in {r.value for r in STAFF_ROLES}
    } == expected_assignments
    # Two warehouses; every SKU a merchant sells (the bundles aside) in stock there, one short of
    # demand per merchant (the out-of-stock order the demo shows) with its restock announced.
    assert sorted(query(workdir, "select code from warehouses")) == [("DEMO-HZ",), ("DEMO-SZ",)]
    stocked = query(
        workdir,
        "select t.slug, count(distinct s.sku_id), min(s.on_hand) from stock s"
        " join tenants t on t.id = s.tenant_id group by t.slug",
    )
    sellable = {t.slug: sum(1 for p in CATALOGS[t.slug].products for _ in p.skus) for t in TENANTS}
    assert sorted(stocked) == sorted((slug, n, 1) for slug, n in sellable.items())
    asns = query(workdir, "select reference, status from stock_receipts where status = 'expected'")
    assert asns == [("DEMO-PO-0001", "expected")] * len(TENANTS)
    # Per merchant an approved stocktake that posted one unit missing, and min/max rules.
    posted = query(
        workdir,
        "select sum(l.posted) from stock_count_lines l join stock_counts c"
        " on c.tenant_id = l.tenant_id and c.id = l.count_id where c.status = 'approved'"
        " group by c.tenant_id",
    )
    assert posted == [(-1,)] * len(TENANTS)
    assert len(query(workdir, "select id from stock_replenishment_rules")) == sum(sellable.values())
    # Per merchant a running campaign with a 满减 promotion, a coded one and a flash sale whose
    # units are held back in the warehouse.
    kinds = query(
        workdir,
        "select t.slug, p.kind, p.carved from mkt_promotions p join tenants t"
        " on t.id = p.tenant_id order by t.slug, p.kind",
    )
    assert sorted(kinds) == sorted(
        (t.slug, kind, 10 if kind == "flash" else 0)
        for t in TENANTS
        for kind in ("flash", "order", "tiered")
    )
    assert query(workdir, "select code from mkt_coupons") == [("WELCOME10",)] * len(TENANTS)
    # And a month of ad spend: two ad groups on each of two channels a day, one linked to the
    # campaign; Lotus Tea's Google Ads in USD converted into CNY at the demo's rates.
    spend = query(
        workdir,
        "select t.slug, count(*), count(s.campaign_id) from mkt_ad_spend s join tenants t"
        " on t.id = s.tenant_id group by t.slug order by t.slug",
    )
    assert spend == sorted((t.slug, 120, 60) for t in TENANTS)
    converted = query(
        workdir,
        "select count(*) from mkt_ad_spend where currency = 'USD' and home_currency = 'CNY'"
        " and home_spend_minor > spend_minor",
    )
    assert converted == [(60,)]
    # Per merchant the 客服 hire and the four seasonal hires of the peak team are placements,
    # each billed once as a service fact; the fifth seasonal hire waits for the recruiter.
    billed = "select count(*) from rc_placements where billed"
    assert query(workdir, billed) == [(5 * len(TENANTS),)]
    fees = "select count(*) from service_facts where kind = 'placement'"
    assert query(workdir, fees) == [(5 * len(TENANTS),)]
    # Every merchant is listed on the agency's careers page.
    listed = "select count(*) from rc_settings where agency_page"
    assert query(workdir, listed) == [(len(TENANTS),)]
    # The team works two shifts a day of the 20, two on each; the days gone by are marked.
    shifts = "select count(*), sum(needed) from rc_shifts"
    assert query(workdir, shifts) == [(40 * len(TENANTS), 80 * len(TENANTS))]
    rostered = "select count(*) from rc_shift_workers"
    assert query(workdir, rostered) == [(80 * len(TENANTS),)]
    # (the demo merchants keep Beijing time): four marks a day, and no hours where none is.
    gone_by = min(periods.today("Asia/Shanghai").day - 1, 20)
    marked = "select count(*) from rc_shift_workers where status != 'scheduled'"
    assert query(workdir, marked) == [(4 * gone_by * len(TENANTS),)]
    worked = "select count(*) from rc_shift_workers where minutes > 0 and status = 'scheduled'"
    assert query(workdir, worked) == [(0,)]
    # Per merchant six resolved e-mail conversations with their surveys: five answered.
    answers = "select count(*), sum(rating) from as_csat where answered_at is not null"
    assert query(workdir, answers) == [(5 * len(TENANTS), 22 * len(TENANTS))]
    # ... and three of them reviewed against the merchant's QA rubric (94 %, 82 %, 70 %).
    reviews = "select score_bp from as_qa_reviews order by score_bp"
    assert sorted(query(workdir, reviews)) == sorted([(7000,), (8200,), (9400,)] * len(TENANTS))
    # The merchants' own shops (Lotus Tea's Shopify and WooCommerce, Maple Home's Shopify) chat
    # through a widget answering the sandbox storefronts, each with a visitor's question; the
    # storefront pages are printed, and the sandbox's shop list names each widget's script.
    widgets = query(workdir, "select allowed_origins from cs_widgets")
    assert len(widgets) == 3 and all("http://127.0.0.1:8100" in o for (o,) in widgets)
    chats = "select count(*) from cs_conversations where channel = 'widget'"
    assert query(workdir, chats) == [(3,)]
    assert "/_sites/shopify/lotus-tea.myshopify.com" in first.out
    sandbox_shops = json.loads((workdir / "var" / "sandbox-shops.json").read_text())
    scripts = [s["widget_script"] for s in sandbox_shops if s["widget_script"]]
    assert len(scripts) == 3 and all("/widget/" in s for s in scripts)
    # Every printed login works with the printed password.
    assert DEMO_PASSWORD in first.out
    hashes = dict(query(workdir, "select email, password_hash from users"))
    for login in (*STAFF, *MERCHANT_USERS):
        assert verify_password(str(hashes[login.email]), DEMO_PASSWORD)[0], login.email
    assert f"username={STAFF[0].email}&password={DEMO_PASSWORD}" in first.out
    assert "/api/v1/auth/token" in first.out

    second = daiyun(workdir, "demo")
    assert second.code == 0, second
    assert "nothing changed" in second.out
    assert counts(workdir) == after_first  # no new rows, not even audit entries
    assert logins_block(second.out) == logins_block(first.out)
    table = logins_block(first.out)
    assert len(table) == 1 + len(STAFF) + len(MERCHANT_USERS)
    assert any("owner.lotus-tea@" in row and "merchant_owner" in row for row in table)


def test_demo_migrates_by_itself(workdir: Path) -> None:
    run = daiyun(workdir, "demo")
    assert run.code == 0, run
    assert counts(workdir)["tenants"] == len(TENANTS)


# --- create-admin ----------------------------------------------------------------------------


def test_create_admin_stores_an_argon2_hash_that_verifies(workdir: Path) -> None:
    assert daiyun(workdir, "migrate").code == 0
    run = daiyun(
        workdir, "create-admin", "Boss@Example.com", "--password", ADMIN_PASSWORD, "--name", "Boss"
    )
    assert run.code == 0, run
    assert "boss@example.com" in run.out
    [(email, name, role, stored)] = query(
        workdir, "select email, name, role, password_hash from users"
    )
    assert (email, name, role) == ("boss@example.com", "Boss", "agency_admin")
    assert str(stored).startswith("$argon2id$")
    assert ADMIN_PASSWORD not in str(stored)
    assert verify_password(str(stored), ADMIN_PASSWORD) == (True, None)
    assert verify_password(str(stored), "not the password")[0] is False

    again = daiyun(workdir, "create-admin", "boss@example.com", "--password", ADMIN_PASSWORD)
    assert_one_line_error(again, "already registered")
    assert counts(workdir)["users"] == 1


def test_create_admin_reads_the_password_from_standard_input(workdir: Path) -> None:
    assert daiyun(workdir, "migrate").code == 0
    run = daiyun(workdir, "create-admin", "piped@example.com", stdin=ADMIN_PASSWORD + "\n")
    assert run.code == 0, run
    [(stored,)] = query(workdir, "select password_hash from users")
    assert verify_password(str(stored), ADMIN_PASSWORD)[0]
    # No password at all (no terminal, nothing piped): refused, nothing created.
    empty = daiyun(workdir, "create-admin", "nobody@example.com")
    assert_one_line_error(empty, "no password")
    assert counts(workdir)["users"] == 1


def test_create_admin_refuses_bad_input_in_one_line(workdir: Path) -> None:
    assert daiyun(workdir, "migrate").code == 0
    short = daiyun(workdir, "create-admin", "short@example.com", "--password", "short")
    assert_one_line_error(short, "password", "at least 10 characters")
    bad_address = daiyun(workdir, "create-admin", "not-an-address", "--password", ADMIN_PASSWORD)
    assert_one_line_error(bad_address, "email")
    assert counts(workdir)["users"] == 0


def test_create_admin_before_migrate_says_what_to_do(workdir: Path) -> None:
    run = daiyun(workdir, "create-admin", "early@example.com", "--password", ADMIN_PASSWORD)
    assert_one_line_error(run, "daiyun migrate")


# --- argument errors -------------------------------------------------------------------------


@pytest.mark.parametrize("queues", ["nope", "default,nope", ","])
def test_worker_refuses_unknown_queues(workdir: Path, queues: str) -> None:
    run = daiyun(workdir, "worker", "--queues", queues)
    assert_one_line_error(run, "unknown queue", *QUEUES)
    assert run.code == 2


@pytest.mark.parametrize(
    "args",
    [["create-admin"], ["api", "--port", "0"], ["frobnicate"], ["worker", "--pool", "gevent"]],
)
def test_usage_errors_are_one_line(workdir: Path, args: list[str]) -> None:
    assert_one_line_error(daiyun(workdir, *args))


def test_demo_will_not_publish_its_password_into_a_server_database(workdir: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"
    run = daiyun(workdir, "demo", env={"DAIYUN_DATABASE_URL": url})
    assert_one_line_error(run, "--force")


# --- serve -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> dict[int, str]:
    """Live direct children of a process, with their command lines (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serving(workdir: Path) -> Iterator[Server]:
    """``daiyun serve`` on a free port, ready (``/readyz`` answers 200) when this yields."""
    if not sys.platform.startswith("linux"):
        pytest.skip("inspects child processes through /proc")
    port = _free_port()
    log = workdir / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "daiyun.cli", "serve", "--port", str(port)],
            cwd=workdir,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            assert process.poll() is None, f"serve exited early:\n{server.output()}"
            try:
                if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"not ready in time:\n{server.output()}"
            time.sleep(0.3)
        yield server
    finally:
        if process.poll() is None:
            for pid in _children(process.pid):
                os.kill(pid, signal.SIGKILL)
            process.kill()
            process.wait()


def _wait_for_exit(process: subprocess.Popen[bytes], server: Server) -> int:
    try:
        return process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve did not stop within {STOP_SECONDS} s:\n{server.output()}")


def _wait_for_text(server: Server, fragment: str, seconds: float = 45.0) -> None:
    deadline = time.monotonic() + seconds
    while fragment not in server.output():
        assert time.monotonic() < deadline, f"never logged {fragment!r}:\n{server.output()}"
        time.sleep(0.3)


@pytest.mark.long
def test_serve_runs_api_worker_beat_and_push_consumers_and_stops_them_all(workdir: Path) -> None:
    assert daiyun(workdir, "demo").code == 0
    created = daiyun(workdir, "create-admin", "ops@example.com", "--password", ADMIN_PASSWORD)
    assert created.code == 0, created
    with serving(workdir) as server:
        _check_serving(server)


def _check_serving(server: Server) -> None:
    # The banner follows the supervisor's own probe of the port, a moment after /readyz answers.
    _wait_for_text(server, f"Daiyun is running on {server.url}", seconds=10)
    assert f"{server.url}/api/v1/docs" in server.output()

    children = _children(server.process.pid)
    kinds = sorted(cmd.split("daiyun.cli", 1)[1].split()[0] for cmd in children.values())
    assert kinds == ["api", "beat", "push-consumers", "worker"], children

    # The API: the created admin signs in and sees every demo merchant.
    token = httpx.post(
        f"{server.url}/api/v1/auth/token",
        data={"username": "ops@example.com", "password": ADMIN_PASSWORD},
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    listed = httpx.get(f"{server.url}/api/v1/tenants", headers=headers)
    assert listed.status_code == 200, listed.text
    assert {t["slug"] for t in listed.json()["items"]} == {t.slug for t in TENANTS}
    # A merchant owner from the demo sees its own merchant only.
    owner = next(u for u in MERCHANT_USERS if u.role == Role.merchant_owner)
    token = httpx.post(
        f"{server.url}/api/v1/auth/token",
        data={"username": owner.email, "password": DEMO_PASSWORD},
    )
    assert token.status_code == 200, token.text
    mine = httpx.get(
        f"{server.url}/api/v1/tenants",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert [t["slug"] for t in mine.json()["items"]] == list(owner.tenants)

    # Beat and the worker: the periodic outbox relay goes through the SQLite broker and runs.
    _wait_for_text(server, "daiyun.events.relay")
    _wait_for_text(server, "succeeded")

    server.process.send_signal(signal.SIGTERM)
    assert _wait_for_exit(server.process, server) == 0
    for pid in children:
        assert not _alive(pid), f"child {pid} ({children[pid]}) outlived serve"
        assert _group_members(pid) == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.url}/healthz", timeout=2)


def test_serve_stops_everything_when_a_child_dies(workdir: Path) -> None:
    # On a fresh directory: serve migrates by itself.
    with serving(workdir) as server:
        children = _children(server.process.pid)
        worker = next(pid for pid, cmd in children.items() if "daiyun.cli worker" in cmd)
        os.kill(worker, signal.SIGKILL)
        code = _wait_for_exit(server.process, server)
        assert code != 0
        assert "the worker process exited" in server.output()
        for pid in children:
            assert not _alive(pid), f"child {pid} ({children[pid]}) outlived serve"


def test_serve_refuses_a_port_in_use(workdir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = daiyun(workdir, "serve", "--port", str(port))
    assert_one_line_error(run, "cannot listen", str(port))


# --- PostgreSQL: migrations run as the owner, everything else as the app role ------------------


@pytest.fixture
def pg_database() -> Iterator[tuple[str, str]]:
    if not PG_URL:
        if os.environ.get("DAIYUN_TEST_REQUIRE_POSTGRES"):
            pytest.fail("DAIYUN_TEST_REQUIRE_POSTGRES is set but DAIYUN_TEST_DATABASE_URL is not")
        pytest.skip("needs PostgreSQL: set DAIYUN_TEST_DATABASE_URL (CI runs this)")
    name = f"daiyun_cli_{uuid.uuid4().hex[:12]}"
    server = make_url(PG_URL)
    admin = db.make_engine(
        server.set(database="postgres").render_as_string(False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    owner = server.set(database=name)
    app_url = owner.set(username=APP_ROLE, password=None)
    try:
        yield owner.render_as_string(False), app_url.render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.mark.long
def test_migrate_grants_the_app_role_and_demo_runs_under_row_security(
    workdir: Path, pg_database: tuple[str, str]
) -> None:
    owner_url, app_url = pg_database
    env = {"DAIYUN_MIGRATION_DATABASE_URL": owner_url, "DAIYUN_DATABASE_URL": app_url}
    migrated = daiyun(workdir, "migrate", env=env)
    assert migrated.code == 0, migrated

    refused = daiyun(workdir, "demo", env=env)
    assert_one_line_error(refused, "--force")
    first = daiyun(workdir, "demo", "--force", env=env)
    assert first.code == 0, first
    second = daiyun(workdir, "demo", "--force", env=env)
    assert "nothing changed" in second.out
    assert logins_block(second.out) == logins_block(first.out)

    engine = db.make_engine(owner_url)
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("select count(*) from tenants")) == len(TENANTS)
            assert connection.scalar(text("select count(*) from users")) == len(STAFF) + len(
                MERCHANT_USERS
            )
            # Written by the app role, which row security binds and which owns nothing.
            role = connection.execute(
                text("select rolsuper, rolbypassrls from pg_roles where rolname = :r"),
                {"r": APP_ROLE},
            ).one()
            assert tuple(role) == (False, False)
            owned = connection.scalar(
                text("select count(*) from pg_tables where tableowner = :r"), {"r": APP_ROLE}
            )
            assert owned == 0
    finally:
        engine.dispose()


# --- forwarded client addresses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("", {"proxy_headers": False, "forwarded_allow_ips": []}),
        (
            "10.0.0.0/8, 192.0.2.7",
            {"proxy_headers": True, "forwarded_allow_ips": ["10.0.0.0/8", "192.0.2.7/32"]},
        ),
    ],
)
def test_api_hands_uvicorn_the_trusted_proxies(
    setting: str, expected: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn believes X-Forwarded-For from exactly DAIYUN_TRUSTED_PROXIES: by default from
    nobody (left to itself it would trust 127.0.0.1)."""
    import uvicorn
    from typer.testing import CliRunner

    from daiyun import cli
    from daiyun.core.config import get_settings

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setattr(get_settings(), "trusted_proxies", setting)
    result = CliRunner().invoke(cli.app, ["api", "--port", str(_free_port())])
    assert result.exit_code == 0, result.output
    [options] = calls
    assert {k: options[k] for k in expected} == expected


def test_api_refuses_a_bad_trusted_proxy_list_in_one_line(workdir: Path) -> None:
    run = daiyun(
        workdir,
        "api",
        "--port",
        str(_free_port()),
        env={"DAIYUN_TRUSTED_PROXIES": "10.0.0.0/8,proxy.example"},
    )
    assert_one_line_error(run, "DAIYUN_TRUSTED_PROXIES", "proxy.example")


def test_a_forwarded_address_from_an_untrusted_peer_does_not_reset_the_throttle(
    workdir: Path,
) -> None:
    """The real server, by default: a guesser on the host who changes X-Forwarded-For on every
    try is still counted as one address, so it meets the limit."""
    assert daiyun(workdir, "migrate").code == 0
    email = "admin@example.com"
    created = daiyun(workdir, "create-admin", email, "--password", ADMIN_PASSWORD)
    assert created.code == 0, created
    port = _free_port()
    log = (workdir / "api.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "daiyun.cli", "api", "--port", str(port)],
        cwd=workdir,
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            assert process.poll() is None, (workdir / "api.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "not ready in time"
            time.sleep(0.2)
        codes = [
            httpx.post(
                f"{url}/api/v1/auth/token",
                data={"username": email, "password": "wrong password"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            ).status_code
            for n in range(6)
        ]
        assert codes == [401] * 5 + [429]
    finally:
        process.terminate()
        process.wait(timeout=STOP_SECONDS)
        log.close()


def test_rates_import_records_a_file_once_and_refuses_a_bad_one_whole(workdir: Path) -> None:
    assert daiyun(workdir, "migrate").code == 0
    good = workdir / "rates.csv"
    good.write_text("day,base,quote,rate\n2026-12-01,USD,CNY,7.12\n2026-12-02,USD,CNY,7.1\n")
    run = daiyun(workdir, "rates", "import", str(good), "--source", "bank")
    assert run.code == 0, run
    assert "2 new, 0 changed, 0 already recorded" in run.out
    again = daiyun(workdir, "rates", "import", str(good), "--source", "bank")
    assert "0 new, 0 changed, 2 already recorded" in again.out
    bad = workdir / "bad.csv"
    bad.write_text("day,base,quote,rate\n2026-12-03,USD,CNY,7.1\n2026-12-04,USD,CNY,seven\n")
    assert_one_line_error(daiyun(workdir, "rates", "import", str(bad)), "bad.csv", "line 3")
    rows = query(workdir, "select day, rate, source from exchange_rates order by day")
    assert rows == [("2026-12-01", "7.12", "bank"), ("2026-12-02", "7.1", "bank")]


def test_rates_fetch_records_each_day_from_the_configured_service(workdir: Path) -> None:
    from daiyun.core.loopback import serving
    from daiyun.sandboxes import rates as sandbox

    assert daiyun(workdir, "migrate").code == 0
    assert_one_line_error(daiyun(workdir, "rates", "fetch"), "DAIYUN_RATES_URL")
    with serving(sandbox.create_app(), "rates-sandbox") as url:
        env = {"DAIYUN_RATES_URL": url, "DAIYUN_RATES_PAIRS": "USD:CNY,EUR:CNY"}
        # Monday to Sunday: five working days of rates for two pairs, none for the weekend.
        args = ("rates", "fetch", "--from", "2025-06-02", "--to", "2025-06-08")
        run = daiyun(workdir, *args, env=env)
        assert run.code == 0, run
        assert "10 new, 0 changed" in run.out
        assert "0 new, 0 changed" in daiyun(workdir, *args, env=env).out
    days = query(workdir, "select distinct day from exchange_rates order by day")
    assert [d for (d,) in days] == [f"2025-06-0{n}" for n in range(2, 7)]
