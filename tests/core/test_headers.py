"""Headers every answer carries (X-Request-ID and nosniff, the 413 and 500 included), the API docs
page served from the package under the portal's policy, and /metrics across worker processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from daiyun.app import create_app
from daiyun.core import observability
from daiyun.core.config import get_settings
from daiyun.portal.web import SECURITY_HEADERS

REPO = Path(__file__).resolve().parents[2]


def assert_stamped(answer: object, request_id: str | None = None) -> None:
    headers = answer.headers  # type: ignore[attr-defined]
    assert headers.get("x-content-type-options") == "nosniff", dict(headers)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", headers.get("x-request-id", "")), dict(headers)
    if request_id is not None:
        assert headers["x-request-id"] == request_id
    # One of each, never doubled by two layers.
    assert len(headers.get_list("x-request-id")) == 1
    assert len(headers.get_list("x-content-type-options")) == 1


@pytest.fixture
def fragile(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """An app with a 1 KiB body limit and two routes that fail with a bug (API and portal)."""
    monkeypatch.setattr(get_settings(), "max_body_bytes", 1024)
    app: FastAPI = create_app()

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/broken", broken, methods=["GET"])
    app.add_api_route("/portal/broken", broken, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_ordinary_answers_carry_the_id_and_nosniff(fragile: TestClient) -> None:
    assert_stamped(fragile.get("/healthz"))
    assert_stamped(fragile.get("/api/v1/no-such-thing", headers={"X-Request-ID": "t-404"}), "t-404")
    assert_stamped(fragile.get("/api/v1/openapi.json"))
    assert_stamped(fragile.get("/portal/static/portal.css"))


def test_a_body_over_the_limit_answers_413_with_the_id(fragile: TestClient) -> None:
    declared = fragile.post(
        "/api/v1/auth/token",
        content=b"x" * 2048,
        headers={"X-Request-ID": "t-413", "Content-Type": "application/json"},
    )
    assert declared.status_code == 413
    assert_stamped(declared, "t-413")

    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"x" * 512

    chunked = fragile.post(
        "/api/v1/tenants",
        content=chunks(),
        headers={"X-Request-ID": "t-413-chunked", "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413
    assert_stamped(chunked, "t-413-chunked")


def test_a_bug_answers_500_with_the_id(fragile: TestClient) -> None:
    api = fragile.get("/api/v1/broken", headers={"X-Request-ID": "t-500"})
    assert api.status_code == 500
    assert api.headers["content-type"].startswith("application/problem+json")
    assert_stamped(api, "t-500")
    page = fragile.get("/portal/broken", headers={"X-Request-ID": "t-500-page"})
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert_stamped(page, "t-500-page")


def test_the_api_docs_load_swagger_from_the_package_under_the_portal_policy(
    fragile: TestClient,
) -> None:
    page = fragile.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert_stamped(page)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    for source in sources:
        # Same origin only: no CDN, so the page works offline and the policy holds.
        assert source.startswith("/"), source
        assert fragile.get(source).status_code == 200, source
    assert "<script>" not in page.text  # no inline script: the policy would refuse it
    bundle = fragile.get("/portal/static/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]
    assert "SwaggerUIBundle" in bundle.text


# --- metrics across workers --------------------------------------------------------------

WORKER = """
import sys
from fastapi.testclient import TestClient
from daiyun.app import create_app

client = TestClient(create_app())
for _ in range(int(sys.argv[1])):
    assert client.get("/healthz").status_code == 200
if sys.argv[2:] == ["report"]:
    print(client.get("/metrics").text)
"""


def _worker(directory: Path, requests: int, *extra: str) -> str:
    env = {**os.environ, observability.MULTIPROC_ENV: str(directory), "DAIYUN_LOG_LEVEL": "ERROR"}
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", WORKER, str(requests), *extra],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_metrics_sum_every_worker_process(tmp_path: Path) -> None:
    """Two worker processes answer requests; either one's /metrics counts them all."""
    _worker(tmp_path, 3)
    report = _worker(tmp_path, 4, "report")
    found = re.search(
        r'daiyun_http_requests_total\{method="GET",route="/healthz",status="200"\} ([0-9.]+)',
        report,
    )
    assert found is not None, report[-2000:]
    assert float(found.group(1)) == 7


def test_the_metrics_directory_is_prepared_for_several_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set, then removed, through monkeypatch: the variable the function sets is undone after the
    # test (a leftover would switch every later /metrics of this process to multiprocess mode).
    monkeypatch.setenv(observability.MULTIPROC_ENV, "unset-after-the-test")
    monkeypatch.delenv(observability.MULTIPROC_ENV)
    assert observability.prepare_multiprocess_metrics(1) is None
    assert observability.MULTIPROC_ENV not in os.environ

    made = observability.prepare_multiprocess_metrics(4)
    assert made is not None and Path(made).is_dir()
    assert os.environ[observability.MULTIPROC_ENV] == made

    # An operator's directory is kept but emptied of a previous run's samples.
    stale = tmp_path / "counter_123.db"
    stale.write_bytes(b"old")
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    monkeypatch.setenv(observability.MULTIPROC_ENV, str(tmp_path))
    assert observability.prepare_multiprocess_metrics(2) == str(tmp_path)
    assert not stale.exists() and keep.exists()
