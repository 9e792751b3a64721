"""Catalog exports and bulk edits: an export read back by an import changes nothing, its cells
are safe in a spreadsheet, and it holds the tenant's rows only; a bulk edit changes the selected
products once, its prices through the margin floor, and reports what it left; another tenant's
jobs are not found. Jobs run in-process (``runner.run``, what the task runs)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from daiyun.core import db
from daiyun.platform.storefront import bulk, runner
from daiyun.platform.storefront.models import Listing
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import Actor, World
from tests.core.tasks_fixtures import celery_broker
from tests.platform.storefront.test_imports import run_import

API = "/api/v1/tenants"


@pytest.fixture(autouse=True)
def broker(tmp_path: Path) -> Iterator[str]:
    with celery_broker(tmp_path) as url:
        yield url


def run_job(
    client: TestClient, actor: Actor, tenant: Tenant, kind: str, body: dict[str, Any]
) -> dict[str, Any]:
    answer = client.post(f"{API}/{tenant.slug}/catalog/{kind}", json=body, headers=actor.headers)
    assert answer.status_code == 202, answer.text
    runner.run(tenant.id, uuid.UUID(answer.json()["id"]))
    read = client.get(
        f"{API}/{tenant.slug}/catalog/{kind}/{answer.json()['id']}", headers=actor.headers
    )
    assert read.status_code == 200, read.text
    return dict(read.json())


def exported(client: TestClient, actor: Actor, tenant: Tenant, **body: Any) -> str:
    job = run_job(client, actor, tenant, "exports", body)
    assert job["state"] == "succeeded", job
    answer = client.get(
        f"{API}/{tenant.slug}/catalog/exports/{job['id']}/file", headers=actor.headers
    )
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment")
    return answer.text


CATALOG = (
    "product,brand,description,code,barcode,attributes,weight_grams,cost_minor,currency,status\n"
    'Longjing,West Lake,"Spring, 2026",LJ-50,6901234567892,"{""size"": ""50 g""}",60,2500,CNY,'
    "active\n"
    "Longjing,West Lake,,LJ-100,,,120,4500,CNY,active\n"
    "=HYPERLINK(evil),@brand,,EVIL-1,,,,100,CNY,draft\n"
)


def test_an_export_imported_again_changes_nothing_and_its_cells_are_safe(
    world: World, client: TestClient
) -> None:
    tenant, other = world.tenant(), world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    viewer = world.actor(Role.merchant_viewer, tenant)
    assert run_import(client, manager, tenant, CATALOG)["state"] == "succeeded"
    run_import(
        client,
        world.actor(Role.account_manager, other),
        other,
        "product,code,cost_minor,currency\nTheirs,THEIRS-1,1,CNY\n",
    )
    before = client.get(f"{API}/{tenant.slug}/products", headers=manager.headers).json()

    text = exported(client, viewer, tenant)  # a viewer may export: it is a read
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["code"] for r in rows] == ["LJ-50", "LJ-100", "EVIL-1"]  # A's rows only
    assert rows[0]["description"] == "Spring, 2026"
    assert rows[0]["attributes"] == '{"size": "50 g"}'
    # A formula a spreadsheet would run is written as text.
    assert (rows[2]["product"], rows[2]["brand"]) == ("'=HYPERLINK(evil)", "'@brand")

    # The file read back as it is: every SKU an update to itself, nothing new, and the
    # neutralizing quotes taken off again (the cells keep their text, not a quote more).
    again = run_import(client, manager, tenant, text)
    assert (again["state"], again["created_count"], again["updated_count"]) == ("succeeded", 0, 3)
    after = client.get(f"{API}/{tenant.slug}/products", headers=manager.headers).json()

    def shape(page: dict[str, Any]) -> list[Any]:
        return [
            (
                p["name"],
                p["brand"],
                p["description"],
                p["status"],
                [
                    (v["code"], v["barcode"], v["attributes"], v["weight_grams"], v["cost_minor"])
                    for v in p["variants"]
                ],
            )
            for p in page["items"]
        ]

    assert shape(after) == shape(before)

    filtered = exported(client, viewer, tenant, filter={"q": "hyperlink"})
    assert [r["code"] for r in csv.DictReader(io.StringIO(filtered))] == ["EVIL-1"]


def test_an_export_is_refused_while_it_runs_and_invisible_to_another_tenant(
    world: World, client: TestClient
) -> None:
    tenant, other = world.tenant(), world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    outsider = world.actor(Role.account_manager, other)
    answer = client.post(f"{API}/{tenant.slug}/catalog/exports", json={}, headers=manager.headers)
    job_id = answer.json()["id"]
    early = client.get(
        f"{API}/{tenant.slug}/catalog/exports/{job_id}/file", headers=manager.headers
    )
    assert (early.status_code, early.json()["type"].rsplit("/", 1)[-1]) == (
        409,
        "export-not-ready",
    )
    runner.run(tenant.id, uuid.UUID(job_id))
    for path in (f"/catalog/exports/{job_id}", f"/catalog/exports/{job_id}/file"):
        assert client.get(f"{API}/{other.slug}{path}", headers=outsider.headers).status_code == 404
    edit = client.post(
        f"{API}/{tenant.slug}/catalog/bulk-edits",
        json={"status": "active"},
        headers=manager.headers,
    )
    assert edit.status_code == 202, edit.text
    edit_id = edit.json()["id"]
    assert (
        client.get(
            f"{API}/{other.slug}/catalog/bulk-edits/{edit_id}", headers=outsider.headers
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"{API}/{tenant.slug}/catalog/bulk-edits/{edit_id}", headers=outsider.headers
        ).status_code
        == 404
    )
    # An export's id is no import's.
    wrong_kind = client.get(
        f"{API}/{tenant.slug}/catalog/imports/{job_id}", headers=manager.headers
    )
    assert wrong_kind.status_code == 404
    refused = client.post(
        f"{API}/{tenant.slug}/catalog/exports",
        json={"filter": {"category_id": str(uuid.uuid4())}},
        headers=manager.headers,
    )
    assert (refused.status_code, refused.json()["type"].rsplit("/", 1)[-1]) == (
        422,
        "unknown-category",
    )


def test_a_bulk_edit_changes_the_selection_once_and_its_prices_meet_the_floor(
    world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    viewer = world.actor(Role.merchant_viewer, tenant)
    shop = factories.shop(tenant.id)
    base = f"{API}/{tenant.slug}"
    tea = client.post(f"{base}/categories", json={"name": "Tea"}, headers=manager.headers).json()
    head = "product,code,cost_minor,currency,product_status,shop_id,list_price_minor\n"
    rows = "".join(
        f"Tea {n},T-{n},1000,CNY,draft,{shop.id},{1300 if n == 0 else 2000}\n" for n in range(5)
    )
    assert run_import(client, manager, tenant, head + rows + "Cup,C-1,500,CNY,active,,\n")[
        "state"
    ] == ("succeeded")
    client.put(
        f"{base}/margin-floors",
        json={"tenant": {"mode": "block", "minimum_margin": "0.2"}},
        headers=manager.headers,
    )
    monkeypatch.setattr(bulk, "PAGE", 2)  # three pages: the progress is kept between them

    # A viewer may not start one.
    body = {"filter": {"status": "draft"}, "status": "active", "category_id": tea["id"]}
    denied = client.post(f"{base}/catalog/bulk-edits", json=body, headers=viewer.headers)
    assert denied.status_code == 403
    job = run_job(client, manager, tenant, "bulk-edits", {**body, "price_change_percent": "-10"})
    assert job["state"] == "succeeded", job
    # 5 products restated and moved, 4 listings repriced; T-0's 1300 → 1170 is under the floor
    # of 1200 and stays as it was, reported.
    assert (job["written_rows"], job["updated_count"], job["skipped_count"]) == (5, 9, 1)
    [problem] = job["problems"]
    assert (problem["column"], "T-0" in problem["problem"], "1,200" in problem["problem"]) == (
        "list_price_minor",
        True,
        True,
    )
    report = list(
        csv.reader(
            io.StringIO(
                client.get(
                    f"{base}/catalog/bulk-edits/{job['id']}/report", headers=viewer.headers
                ).text
            )
        )
    )
    assert report == [["row", "column", "problem"], ["1", "list_price_minor", problem["problem"]]]
    products = client.get(f"{base}/products", headers=manager.headers).json()["items"]
    moved = {p["name"]: (p["status"], p["category_id"]) for p in products}
    assert moved["Tea 3"] == ("active", tea["id"])
    assert moved["Cup"] == ("active", None)  # not selected: it was active already
    with db.unit_of_work(tenant.id) as session:
        prices = sorted(
            (x.list_price_minor, x.prior_price_minor) for x in session.scalars(select(Listing))
        )
    assert prices == [(1300, None)] + [(1800, 2000)] * 4

    # Run again (a duplicate message): the finished job changes nothing more.
    assert runner.run(tenant.id, uuid.UUID(job["id"])) == "finished"
    with db.unit_of_work(tenant.id) as session:
        assert sorted(x.list_price_minor for x in session.scalars(select(Listing))) == [
            1300,
            1800,
            1800,
            1800,
            1800,
        ]
    nothing = client.post(f"{base}/catalog/bulk-edits", json={}, headers=manager.headers)
    assert (nothing.status_code, nothing.json()["type"].rsplit("/", 1)[-1]) == (
        422,
        "nothing-to-change",
    )
