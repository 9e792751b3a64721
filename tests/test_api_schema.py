"""The API answers what its OpenAPI document says, for any input: schemathesis over loopback.

Schemathesis reads ``/openapi.json`` from the real app served by uvicorn and sends every
operation generated requests (valid ones, and ones that break the schema on purpose), signed in as
the agency admin. Every check it has runs: no answer is a server error, every status code, content
type, header and body is one the document declares, invalid input is refused, and so on. The run is
bounded (examples per operation, fixed seed) so the suite stays fast and repeatable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from daiyun.core import db
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.auth.schemas import UserCreate
from daiyun.tenants.auth.users import create_user
from daiyun.tenants.schemas import TenantCreate
from tests import factories
from tests.conftest import PASSWORD, TestDatabase
from tests.portal.browser.live import (
    LiveServer,
    app_database,
    committed_database,
    live_server,
)

# Per operation; the document has about fifty, so a run sends a few thousand requests.
EXAMPLES = int(os.environ.get("DAIYUN_SCHEMA_EXAMPLES", "30"))
SEED = int(os.environ.get("DAIYUN_SCHEMA_SEED", "20261205"))
# A path regex to run on alone (while working on one department); the suite runs them all.
ONLY = os.environ.get("DAIYUN_SCHEMA_ONLY")


@pytest.fixture(scope="module")
def served(
    test_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, str]]:
    """The app on a database of its own, with an admin, a merchant, a shop and an order."""
    workdir = tmp_path_factory.mktemp("schema")
    with committed_database(test_database, "schema", workdir) as database:
        with app_database(database.app_url):
            email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
            with db.unit_of_work() as session:
                create_user(
                    session,
                    UserCreate(
                        email=email, name="Admin", password=PASSWORD, role=Role.agency_admin
                    ),
                    None,
                )
                tenant = tenant_service.create_tenant(
                    session,
                    TenantCreate(slug="lotus", display_name="Lotus", legal_name="Lotus Ltd"),
                )
            shop = factories.shop(tenant.id, "shopify", external_id="shop-lotus")
            with db.unit_of_work(tenant.id) as session:
                from daiyun.platform.orders import service as order_service

                order_service.ingest(session, shop.id, "shopify", [factories.order("1001")])
        with live_server(database, workdir) as server:
            answer = httpx.post(
                f"{server.url}/api/v1/auth/token",
                data={"username": email, "password": PASSWORD},
                timeout=10,
            )
            answer.raise_for_status()
            yield server, answer.json()["access_token"]


@pytest.mark.long
def test_every_operation_answers_as_its_document_says(
    served: tuple[LiveServer, str], tmp_path: Path
) -> None:
    server, token = served
    run = subprocess.run(  # noqa: S603
        [
            str(Path(sys.executable).with_name("st")),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{server.url}/api/v1/openapi.json",
            "--url",
            server.url,
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--generation-database",
            "none",
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
            "--no-color",
            "--header",
            f"Authorization: Bearer {token}",
            "--request-timeout",
            "20",
            # Signing out would revoke the token every other operation runs with.
            "--exclude-path",
            "/api/v1/auth/logout",
            # Offboarding the run's tenant would turn every later operation on it into a 404.
            "--exclude-operation-id",
            "offboard_tenant_api_v1_tenants__tenant__delete",
            *(["--include-path-regex", ONLY] if ONLY else []),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=900,
        check=False,
    )
    report = os.environ.get("DAIYUN_SCHEMA_REPORT")
    if report:  # the whole report, for reading at leisure
        Path(report).write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-2000:]
