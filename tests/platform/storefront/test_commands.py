"""``daiyun catalog import FILE --tenant SLUG``: the import job run from the command line on the
embedded database, its problems printed with row and column, nothing written when one fails."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from daiyun.core import db
from daiyun.tenants import service as tenant_service
from daiyun.tenants.schemas import TenantCreate
from tests.test_cli import assert_one_line_error, daiyun


def _tenant(workdir: Path, slug: str) -> None:
    engine = db.make_engine(f"sqlite:///{workdir / 'var' / 'daiyun.sqlite'}")
    try:
        with sessionmaker(bind=engine)() as session:
            tenant_service.create_tenant(
                session, TenantCreate(slug=slug, display_name="Lotus", legal_name="Lotus Ltd")
            )
            session.commit()
    finally:
        engine.dispose()


def _codes(workdir: Path) -> list[str]:
    with sqlite3.connect(workdir / "var" / "daiyun.sqlite") as connection:
        return sorted(code for (code,) in connection.execute("select code from catalog_skus"))


def test_catalog_import_writes_a_good_file_and_names_the_problems_of_a_bad_one(
    tmp_path: Path,
) -> None:
    assert daiyun(tmp_path, "migrate").code == 0
    _tenant(tmp_path, "lotus")
    good = tmp_path / "catalog.csv"
    good.write_text("product,code,cost_minor,currency\nTea,T-1,100,CNY\nTea,T-2,200,CNY\n")
    run = daiyun(tmp_path, "catalog", "import", str(good), "--tenant", "lotus")
    assert run.code == 0, run
    assert "succeeded; 2 rows, 2 SKUs created, 0 updated" in run.out
    bad = tmp_path / "bad.csv"
    bad.write_text("product,code,cost_minor,currency\nCup,C-1,100,CNY\nCup,C-2,lots,CNY\n")
    refused = daiyun(tmp_path, "catalog", "import", str(bad), "--tenant", "lotus")
    assert refused.code == 1, refused
    assert "rejected" in refused.out and "row 2, cost_minor:" in refused.out
    assert _codes(tmp_path) == ["T-1", "T-2"]  # nothing of the bad file
    partial = daiyun(
        tmp_path, "catalog", "import", str(bad), "--tenant", "lotus", "--valid-rows-only"
    )
    assert partial.code == 0, partial
    assert _codes(tmp_path) == ["C-1", "T-1", "T-2"]
    assert_one_line_error(
        daiyun(tmp_path, "catalog", "import", str(good), "--tenant", "nobody"), "nobody"
    )
