"""The carrier sandbox's own wire: what it refuses and how, and its control API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from daiyun.sandboxes.carriers import CarrierSandbox, running_carrier_sandbox

ADDRESS = {
    "name": "王小明",
    "phone": "13800138000",
    "province": "上海市",
    "city": "上海市",
    "address": "世纪大道88号",
}


@pytest.fixture
def sandbox() -> Iterator[CarrierSandbox]:
    with running_carrier_sandbox() as served:
        yield served


def _post(sandbox: CarrierSandbox, path: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"X-Carrier-Key": key if key is not None else sandbox.api_key}
    return httpx.post(sandbox.url + path, json=body, headers=headers, timeout=10)


def _waybill(ref: str = "R1", **changes: Any) -> dict[str, Any]:
    return {
        "order_ref": ref,
        "sender": ADDRESS,
        "recipient": ADDRESS,
        "weight_grams": 500,
        **changes,
    }


def test_bad_requests_answer_their_codes(sandbox: CarrierSandbox) -> None:
    cases = [
        (_waybill(order_ref=""), "1001"),
        (_waybill(order_ref="x" * 65), "1001"),
        (_waybill(recipient={**ADDRESS, "city": ""}), "1001"),
        (_waybill(weight_grams=0), "1001"),
        (_waybill(weight_grams=True), "1001"),
        (_waybill(weight_grams=50_001), "1003"),
        (_waybill(recipient={**ADDRESS, "address": "NO-SERVICE 1"}), "1002"),
        ([1, 2], "1001"),
    ]
    for body, code in cases:
        answer = _post(sandbox, "/sf/waybills", body)
        assert answer.status_code == 200
        assert answer.json()["success"] is False and answer.json()["code"] == code, body
    assert sandbox.state.stats()["waybills"] == 0


def test_key_carrier_and_faults(sandbox: CarrierSandbox) -> None:
    assert _post(sandbox, "/sf/waybills", _waybill(), key="nope").status_code == 401
    assert _post(sandbox, "/ems/waybills", _waybill()).status_code == 404
    faults = {"throttle_next": 1, "retry_after": 3, "fail_next": 1, "fail_status": 502}
    assert httpx.post(f"{sandbox.url}/_sandbox/faults", json=faults).status_code == 200
    throttled = _post(sandbox, "/sf/waybills", _waybill())
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "3")
    assert _post(sandbox, "/sf/waybills", _waybill()).status_code == 502
    made = _post(sandbox, "/sf/waybills", _waybill()).json()
    assert made["success"] and made["data"]["created"] is True
    again = _post(sandbox, "/sf/waybills", _waybill()).json()
    assert again["data"]["waybill_no"] == made["data"]["waybill_no"]
    assert again["data"]["created"] is False


def test_control_advances_and_resets(sandbox: CarrierSandbox) -> None:
    number = _post(sandbox, "/zto/waybills", _waybill()).json()["data"]["waybill_no"]
    control = f"{sandbox.url}/_sandbox/waybills/{number}"
    assert httpx.post(f"{control}/advance", json={"to": "LOST"}).status_code == 400
    assert httpx.post(f"{sandbox.url}/_sandbox/waybills/X1/advance").status_code == 404
    moved = httpx.post(f"{control}/advance").json()
    assert moved["status"] == "PICKED_UP"
    assert httpx.post(f"{control}/advance", json={"to": "DELIVERED"}).json()["status"] == (
        "DELIVERED"
    )
    # Delivered is final: nothing moves it on.
    assert httpx.post(f"{control}/advance", json={"to": "EXCEPTION"}).json()["status"] == (
        "DELIVERED"
    )
    assert httpx.get(control).json()["waybill_no"] == number
    assert httpx.get(f"{sandbox.url}/_sandbox/stats").json()["waybills"] == 1
    httpx.post(f"{sandbox.url}/_sandbox/reset")
    assert httpx.get(control).status_code == 404
