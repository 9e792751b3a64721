"""CSV import of products, variants and prices: every row checked before anything is written,
the report names each problem's row and column, ``valid_rows_only`` writes the rest, a run that
died mid-job resumes without adding a SKU twice, prices go through the margin floor, and another
tenant's import is not found. The job runs in-process here (``runner.run``, what the task runs);
one test sends it through the real broker to a worker."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from daiyun.core import db
from daiyun.platform.storefront import import_writes, imports, runner
from daiyun.platform.storefront.models import CatalogJob, Listing, Product, Sku
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import Actor, World
from tests.core.tasks_fixtures import celery_broker, running_worker, wait_for

API = "/api/v1/tenants"
HEADER = "product,brand,code,attributes,cost_minor,currency,status\n"


@pytest.fixture(autouse=True)
def broker(tmp_path: Path) -> Iterator[str]:
    """The tasks the requests queue go to a throwaway broker (no worker runs them here)."""
    with celery_broker(tmp_path) as url:
        yield url


def upload(
    client: TestClient,
    actor: Actor,
    tenant: Tenant,
    text: str | bytes,
    *,
    valid_rows_only: bool = False,
    name: str = "catalog.csv",
) -> Any:
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        f"{API}/{tenant.slug}/catalog/imports",
        files={"file": (name, data, "text/csv")},
        data={"valid_rows_only": "true" if valid_rows_only else "false"},
        headers=actor.headers,
    )


def run_import(
    client: TestClient, actor: Actor, tenant: Tenant, text: str, **options: Any
) -> dict[str, Any]:
    """Upload, run the job as the worker would, and read it back over the API."""
    answer = upload(client, actor, tenant, text, **options)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    assert answer.json()["state"] == "queued"
    runner.run(tenant.id, uuid.UUID(job_id))
    read = client.get(f"{API}/{tenant.slug}/catalog/imports/{job_id}", headers=actor.headers)
    assert read.status_code == 200, read.text
    return dict(read.json())


def codes(tenant: Tenant) -> list[str]:
    with db.unit_of_work(tenant.id) as session:
        return sorted(session.scalars(select(Sku.code)))


def counts(tenant: Tenant) -> tuple[int, int]:
    with db.unit_of_work(tenant.id) as session:
        products = session.scalar(select(func.count()).select_from(Product))
        skus = session.scalar(select(func.count()).select_from(Sku))
        return int(products or 0), int(skus or 0)


GOOD = (
    HEADER
    + 'Longjing,West Lake,LJ-50,"{""size"": ""50 g""}",2500,CNY,active\n'
    + 'Longjing,West Lake,LJ-100,"{""size"": ""100 g""}",4500,CNY,active\n'
    + "Oolong,,OO-1,,1800,CNY,draft\n"
)


def test_a_file_makes_products_with_their_variants_and_a_second_one_updates_them(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    job = run_import(client, manager, tenant, GOOD)
    assert (job["state"], job["created_count"], job["updated_count"]) == ("succeeded", 3, 0)
    assert (job["total_rows"], job["written_rows"], job["problem_count"]) == (3, 3, 0)
    products = client.get(f"{API}/{tenant.slug}/products", headers=manager.headers).json()
    by_name = {p["name"]: p for p in products["items"]}
    assert [v["code"] for v in by_name["Longjing"]["variants"]] == ["LJ-50", "LJ-100"]
    assert by_name["Longjing"]["variants"][0]["attributes"] == {"size": "50 g"}
    assert by_name["Oolong"]["variants"][0]["status"] == "draft"

    # The same codes again: the SKUs change, nothing is added; a column left out (brand) stays.
    again = run_import(
        client,
        manager,
        tenant,
        "product,code,cost_minor,currency\nLongjing,LJ-50,2600,CNY\nLongjing,LJ-250,9000,CNY\n",
    )
    assert (again["created_count"], again["updated_count"]) == (1, 1)
    assert counts(tenant) == (2, 4)
    found = client.get(
        f"{API}/{tenant.slug}/skus", params={"code": "LJ-50"}, headers=manager.headers
    ).json()["items"][0]
    assert (found["cost_minor"], found["attributes"]) == (2600, {"size": "50 g"})
    product = client.get(
        f"{API}/{tenant.slug}/products/{found['product_id']}", headers=manager.headers
    ).json()
    assert (product["brand"], [v["code"] for v in product["variants"]]) == (
        "West Lake",
        ["LJ-50", "LJ-100", "LJ-250"],
    )


BAD = (
    HEADER
    + "Longjing,West Lake,LJ-50,,2500,CNY,active\n"  # fine
    + "Longjing,West Lake,LJ-50,,2500,CNY,active\n"  # the code again
    + "Oolong,,OO-1,,-5,CNY,active\n"  # a negative cost
    + "Oolong,,OO-2,,1800,cny,active\n"  # a lower-case currency
    + "Puer,,PU-1,{not json},1800,CNY,sold\n"  # attributes and status both wrong
    + ",,NAMELESS,,100,CNY,active\n"  # no product name
)


def test_bad_rows_write_nothing_and_every_problem_is_reported_with_row_and_column(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    job = run_import(client, manager, tenant, BAD)
    assert job["state"] == "rejected"
    assert (job["created_count"], job["written_rows"]) == (0, 0)
    where = {(p["row"], p["column"]) for p in job["problems"]}
    assert where == {
        (2, "code"),
        (3, "cost_minor"),
        (4, "currency"),
        (5, "attributes"),
        (6, "product"),
    }, job["problems"]
    assert "row 1" in next(p["problem"] for p in job["problems"] if p["row"] == 2)
    assert job["problem_count"] == 5
    assert counts(tenant) == (0, 0)

    report = client.get(
        f"{API}/{tenant.slug}/catalog/imports/{job['id']}/report", headers=manager.headers
    )
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    lines = report.text.strip().splitlines()
    assert lines[0] == "row,column,problem"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["2", "code"],
        ["3", "cost_minor"],
        ["4", "currency"],
        ["5", "attributes"],
        ["6", "product"],
    ]

    # The valid rows only: those are written, the others skipped and still reported.
    partial = run_import(client, manager, tenant, BAD, valid_rows_only=True)
    assert partial["state"] == "succeeded"
    assert (partial["created_count"], partial["skipped_count"]) == (1, 5)
    assert partial["problem_count"] == 5
    assert codes(tenant) == ["LJ-50"]


def test_an_upload_that_is_not_a_catalog_csv_is_refused_before_any_job(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    xlsx = upload(client, manager, tenant, b"PK\x03\x04rest of a zip", name="catalog.csv")
    assert (xlsx.status_code, xlsx.json()["type"].rsplit("/", 1)[-1]) == (415, "not-csv")
    header = upload(client, manager, tenant, "name,price\nTea,100\n")
    assert header.status_code == 422
    assert set(header.json()["missing"]) == {"product", "code", "cost_minor", "currency"}
    assert header.json()["unknown"] == ["name", "price"]
    semicolons = run_import(
        client, manager, tenant, "product;code;cost_minor;currency\nTea;T-1;100;CNY\n"
    )
    assert (semicolons["state"], codes(tenant)) == ("succeeded", ["T-1"])
    with db.unit_of_work(tenant.id) as session:
        jobs = session.scalar(select(func.count()).select_from(CatalogJob))
    assert jobs == 1  # the refused uploads made no job


def test_a_run_that_dies_mid_job_resumes_without_writing_a_sku_twice(
    world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    monkeypatch.setattr(imports, "BATCH_ROWS", 4)
    rows = "".join(f"Product {n // 2},,C-{n:03},,{100 + n},CNY,active\n" for n in range(20))
    answer = upload(client, manager, tenant, HEADER + rows)
    job_id = uuid.UUID(answer.json()["id"])

    calls = {"n": 0}
    real = import_writes.write_batch

    def dies_on_the_third_batch(session: Any, groups: Any) -> tuple[int, int]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return real(session, groups)

    monkeypatch.setattr(imports, "write_batch", dies_on_the_third_batch)
    with pytest.raises(RuntimeError, match="worker killed"):
        runner.run(tenant.id, job_id)
    mid = client.get(f"{API}/{tenant.slug}/catalog/imports/{job_id}", headers=manager.headers)
    assert (mid.json()["state"], mid.json()["written_rows"]) == ("writing", 8)
    assert "worker killed" in mid.json()["error"]
    assert counts(tenant) == (4, 8)

    monkeypatch.setattr(imports, "write_batch", real)
    runner.run(tenant.id, job_id)
    done = client.get(f"{API}/{tenant.slug}/catalog/imports/{job_id}", headers=manager.headers)
    assert done.json()["state"] == "succeeded", done.json()
    assert (done.json()["created_count"], done.json()["written_rows"]) == (20, 20)
    assert counts(tenant) == (10, 20)
    assert codes(tenant) == [f"C-{n:03}" for n in range(20)]
    # A duplicate message for the finished job changes nothing.
    assert runner.run(tenant.id, job_id) == "finished"
    assert counts(tenant) == (10, 20)


def test_prices_go_through_the_margin_floor_and_land_on_the_shops_listing(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    shop = factories.shop(tenant.id)
    floors = client.put(
        f"{API}/{tenant.slug}/margin-floors",
        json={"tenant": {"mode": "block", "minimum_margin": "0.2"}},
        headers=manager.headers,
    )
    assert floors.status_code == 200, floors.text
    head = "product,code,cost_minor,currency,shop_id,list_price_minor,sale_price_minor\n"
    under = run_import(
        client,
        manager,
        tenant,
        head + f"Tea,T-1,1000,CNY,{shop.id},1500,1100\nTea,T-2,1000,CNY,{shop.id},1200,\n",
    )
    assert under["state"] == "rejected"
    [problem] = under["problems"]
    assert (problem["row"], problem["column"]) == (1, "sale_price_minor")
    assert "1,100" in problem["problem"] and "1,200" in problem["problem"]
    assert counts(tenant) == (0, 0)

    fine = run_import(client, manager, tenant, head + f"Tea,T-1,1000,CNY,{shop.id},1500,1250\n")
    assert fine["state"] == "succeeded", fine
    with db.unit_of_work(tenant.id) as session:
        listing = session.scalar(select(Listing))
        assert listing is not None
        assert (listing.shop_id, listing.list_price_minor, listing.sale_price_minor) == (
            shop.id,
            1500,
            1250,
        )
        assert (listing.state.value, listing.title, listing.currency) == ("draft", "Tea", "CNY")
    again = run_import(client, manager, tenant, head + f"Tea,T-1,1000,CNY,{shop.id},1600,\n")
    assert again["state"] == "succeeded"
    with db.unit_of_work(tenant.id) as session:
        listings = list(session.scalars(select(Listing)))
        assert [
            (x.list_price_minor, x.sale_price_minor, x.prior_price_minor) for x in listings
        ] == [(1600, None, 1250)]


def test_another_tenants_import_is_not_found_and_its_catalog_untouched(
    world: World, client: TestClient
) -> None:
    tenant, other = world.tenant(), world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    outsider = world.actor(Role.account_manager, other)
    job = run_import(client, manager, tenant, GOOD)
    for path in (f"/catalog/imports/{job['id']}", f"/catalog/imports/{job['id']}/report"):
        # Under its own tenant, the other tenant's job id is no job; under ours, 404 as well.
        assert client.get(f"{API}/{other.slug}{path}", headers=outsider.headers).status_code == 404
        assert client.get(f"{API}/{tenant.slug}{path}", headers=outsider.headers).status_code == 404
    # The same codes in the other tenant are its own SKUs, made, not updates of ours.
    theirs = run_import(client, outsider, other, GOOD)
    assert (theirs["created_count"], theirs["updated_count"]) == (3, 0)
    assert counts(tenant) == (2, 3) and counts(other) == (2, 3)


@pytest.fixture
def worker_app(engine: Engine, tmp_path: Path, app: FastAPI) -> Iterator[TestClient]:
    with running_worker(engine, tmp_path), TestClient(app) as client:
        yield client


def test_an_import_goes_through_the_broker_to_a_worker(worker_app: TestClient) -> None:
    world = World(worker_app)
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    answer = upload(worker_app, manager, tenant, GOOD)
    assert answer.status_code == 202, answer.text
    url = f"{API}/{tenant.slug}/catalog/imports/{answer.json()['id']}"

    def finished() -> dict[str, Any] | None:
        job = worker_app.get(url, headers=manager.headers).json()
        return job if job["state"] in ("succeeded", "rejected", "failed") else None

    job = wait_for(finished, "the import to finish")
    assert (job["state"], job["created_count"]) == ("succeeded", 3)
    assert codes(tenant) == ["LJ-100", "LJ-50", "OO-1"]


def test_an_upload_may_be_larger_than_other_bodies_up_to_its_own_limit(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    rows = "".join(f"Product {n},,BIG-{n:06},,{n},CNY,active\n" for n in range(40_000))
    text = HEADER + rows
    assert 1 << 20 < len(text) < imports.MAX_IMPORT_BYTES  # past the API's usual 1 MiB
    taken = upload(client, manager, tenant, text)
    assert taken.status_code == 202, taken.text
    # Another route's body of that size is still refused.
    other = client.post(
        f"{API}/{tenant.slug}/catalog/exports",
        content=b"{" + b" " * (len(text)) + b"}",
        headers={**manager.headers, "Content-Type": "application/json"},
    )
    assert other.status_code == 413
    too_big = upload(client, manager, tenant, b"x" * (imports.MAX_IMPORT_BYTES + (128 << 10)))
    assert (too_big.status_code, too_big.json()["type"].rsplit("/", 1)[-1]) == (
        413,
        "payload-too-large",
    )


def test_a_job_whose_message_was_lost_is_queued_again_by_the_sweep_and_finishes(
    worker_app: TestClient,
) -> None:
    world = World(worker_app)
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    with db.unit_of_work(tenant.id) as session:
        # Stored as an upload stores it, but its task never sent (the broker lost it).
        job = imports.start(
            session, io.BytesIO(GOOD.encode()), "lost.csv", valid_rows_only=False, user_id=None
        )
        job_id = job.id
    url = f"{API}/{tenant.slug}/catalog/imports/{job_id}"
    assert runner.sweep_jobs.run() == 0  # not stale yet: a live job is left alone
    with db.unit_of_work(tenant.id) as session:
        stale = session.scalar(select(CatalogJob).where(CatalogJob.id == job_id))
        assert stale is not None
        stale.created_at = stale.created_at - runner.STALE_AFTER * 2
    assert runner.sweep_jobs.run() >= 1

    def finished() -> dict[str, Any] | None:
        read = worker_app.get(url, headers=manager.headers).json()
        return read if read["state"] == "succeeded" else None

    done = wait_for(finished, "the swept import to finish")
    assert (done["created_count"], done["problem_count"]) == (3, 0)
    assert codes(tenant) == ["LJ-100", "LJ-50", "OO-1"]
