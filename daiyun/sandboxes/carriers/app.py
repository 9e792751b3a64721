"""The carrier sandbox's HTTP API: one wire for every carrier, under ``/{carrier}``.

Every call carries the shipper's key in ``X-Carrier-Key``; a wrong one is ``401``. Business
answers are HTTP 200 with an envelope, as the Chinese e-waybill gateways answer (UNCONFIRMED:
SF's open platform wraps it as ``apiResultData``, Cainiao's as ``*_response``)::

    {"success": true|false, "code": "0"|"<error code>", "message": "...", "data": {...}}

``POST /{carrier}/waybills`` requests a waybill number. Body: ``order_ref`` (the shipper's
order id, at most 64 characters: a repeat of it answers the same number, so a retried request
never gets a second one), ``sender`` and ``recipient`` (``name``, ``phone``, ``province``,
``city``, ``district``, ``address``), ``weight_grams`` (1 .. 50,000), optional ``items``
(``name``, ``quantity``). Data: ``waybill_no``, ``carrier``, ``carrier_name``, ``sort_code``
(the 三段码 printed big on the label), ``destination``, ``created`` (false for a repeat).

``POST /{carrier}/waybills/{no}/cancel`` cancels a waybill not yet picked up (again: ok).
``GET /{carrier}/waybills/{no}/tracks`` reads its tracking: ``status`` and ``events`` (``seq``,
``code``, ``description``, ``location``, ``time``), codes ``PICKED_UP``, ``IN_TRANSIT``,
``OUT_FOR_DELIVERY``, ``DELIVERED``, ``EXCEPTION``.

Error codes: ``1001`` invalid request, ``1002`` address not serviceable, ``1003`` over the
weight limit, ``2001`` no such waybill, ``2002`` already picked up (cannot cancel). Injected
faults answer ``429`` with ``Retry-After`` or ``5xx`` with ``{"success": false, "code":
"9999"}``.

Control (no key): ``POST /_sandbox/faults`` {fail_next, throttle_next, retry_after,
fail_status}; ``POST /_sandbox/waybills/{no}/advance`` {to: null (one step) | "DELIVERED" |
"EXCEPTION"}; ``GET /_sandbox/waybills/{no}``; ``GET /_sandbox/stats``; ``POST /_sandbox/reset``.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from daiyun.sandboxes.carriers.state import (
    CARRIER_NAMES,
    CARRIERS,
    EXCEPTION,
    MAX_WEIGHT_GRAMS,
    NOT_SERVICEABLE,
    STEPS,
    CarrierSandboxState,
    Faults,
    Waybill,
)

INVALID = "1001"
NOT_SERVICEABLE_CODE = "1002"
OVERWEIGHT = "1003"
NO_WAYBILL = "2001"
CANNOT_CANCEL = "2002"
ADDRESS_FIELDS = ("name", "phone", "province", "city", "address")

carrier_router = APIRouter(tags=["sandbox: carriers"])
control = APIRouter(prefix="/_sandbox", tags=["sandbox: control"])


def _answer(data: dict[str, Any] | None = None, code: str = "0", message: str = "ok") -> Response:
    return JSONResponse(
        {"success": code == "0", "code": code, "message": message, "data": data or {}}
    )


def _admit(request: Request, carrier: str, what: str) -> CarrierSandboxState | Response:
    state: CarrierSandboxState = request.app.state.carriers
    state.count(f"{carrier}:{what}")
    if carrier not in CARRIERS:
        return JSONResponse(
            {"success": False, "code": "4040", "message": f"no carrier {carrier}"}, status_code=404
        )
    fault, retry_after, status = state.draw_fault()
    if fault == "throttle":
        return JSONResponse(
            {"success": False, "code": "4290", "message": "too many requests"},
            status_code=429,
            headers={"Retry-After": f"{retry_after:g}"},
        )
    if fault == "fail":
        return JSONResponse(
            {"success": False, "code": "9999", "message": "system busy"}, status_code=status
        )
    key = request.headers.get("X-Carrier-Key", "")
    if not secrets.compare_digest(key.encode(), state.api_key.encode()):
        return JSONResponse(
            {"success": False, "code": "4010", "message": "invalid key"}, status_code=401
        )
    return state


def _address_problem(doc: Any, role: str) -> str | None:
    if not isinstance(doc, dict):
        return f"{role} is required"
    for name in ADDRESS_FIELDS:
        if not isinstance(doc.get(name), str) or not doc[name].strip():
            return f"{role}.{name} is required"
    return None


@carrier_router.post("/{carrier}/waybills")
async def request_waybill(request: Request, carrier: str) -> Response:
    admitted = _admit(request, carrier, "waybill")
    if isinstance(admitted, Response):
        return admitted
    try:
        body = await request.json()
    except ValueError:
        return _answer(code=INVALID, message="body is not JSON")
    if not isinstance(body, dict):
        return _answer(code=INVALID, message="body is not an object")
    ref = body.get("order_ref")
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 64:
        return _answer(code=INVALID, message="order_ref is required (at most 64 characters)")
    for role in ("sender", "recipient"):
        problem = _address_problem(body.get(role), role)
        if problem:
            return _answer(code=INVALID, message=problem)
    weight = body.get("weight_grams")
    if isinstance(weight, bool) or not isinstance(weight, int) or weight <= 0:
        return _answer(code=INVALID, message="weight_grams is a positive whole number")
    if weight > MAX_WEIGHT_GRAMS:
        return _answer(code=OVERWEIGHT, message=f"over {MAX_WEIGHT_GRAMS} g")
    recipient = body["recipient"]
    where = " ".join(
        str(recipient.get(k) or "") for k in ("province", "city", "district", "address")
    )
    if any(mark in where for mark in NOT_SERVICEABLE):
        return _answer(
            code=NOT_SERVICEABLE_CODE, message="收件地址超出派送范围 / address not serviceable"
        )
    waybill, created = admitted.issue(carrier, ref, recipient, weight)
    return _answer(
        {
            "waybill_no": waybill.number,
            "carrier": carrier,
            "carrier_name": CARRIER_NAMES[carrier],
            "sort_code": waybill.sort_code,
            "destination": f"{recipient.get('province', '')} {recipient.get('city', '')}".strip(),
            "created": created,
        }
    )


def _waybill(state: CarrierSandboxState, carrier: str, number: str) -> Waybill | Response:
    waybill = state.find(carrier, number)
    if waybill is None:
        return _answer(code=NO_WAYBILL, message=f"no waybill {number}")
    return waybill


@carrier_router.post("/{carrier}/waybills/{number}/cancel")
def cancel_waybill(request: Request, carrier: str, number: str) -> Response:
    admitted = _admit(request, carrier, "cancel")
    if isinstance(admitted, Response):
        return admitted
    waybill = _waybill(admitted, carrier, number)
    if isinstance(waybill, Response):
        return waybill
    if not admitted.cancel(waybill):
        return _answer(code=CANNOT_CANCEL, message="快件已揽收，不能取消 / already picked up")
    return _answer({"waybill_no": number, "cancelled": True})


@carrier_router.get("/{carrier}/waybills/{number}/tracks")
def tracks(request: Request, carrier: str, number: str) -> Response:
    admitted = _admit(request, carrier, "tracks")
    if isinstance(admitted, Response):
        return admitted
    waybill = _waybill(admitted, carrier, number)
    if isinstance(waybill, Response):
        return waybill
    admitted.catch_up(waybill)
    with admitted.lock:
        return _answer(waybill.render())


@control.post("/faults")
async def set_faults(request: Request) -> Response:
    state: CarrierSandboxState = request.app.state.carriers
    body = await request.json()
    faults = Faults(**{k: v for k, v in body.items() if k in Faults.__dataclass_fields__})
    with state.lock:
        state.faults = faults
    return JSONResponse(faults.as_dict())


@control.post("/waybills/{number}/advance")
async def advance(request: Request, number: str) -> Response:
    state: CarrierSandboxState = request.app.state.carriers
    body = await request.json() if await request.body() else {}
    to = body.get("to") if isinstance(body, dict) else None
    if to is not None and to not in (*STEPS, EXCEPTION):
        return JSONResponse({"error": f"to is one of {(*STEPS, EXCEPTION)}"}, status_code=400)
    waybill = state.get(number)
    if waybill is None:
        return JSONResponse({"error": f"no waybill {number}"}, status_code=404)
    state.advance(waybill, to)
    with state.lock:
        return JSONResponse(waybill.render())


@control.get("/waybills/{number}")
def show(request: Request, number: str) -> Response:
    state: CarrierSandboxState = request.app.state.carriers
    waybill = state.get(number)
    if waybill is None:
        return JSONResponse({"error": f"no waybill {number}"}, status_code=404)
    with state.lock:
        return JSONResponse(waybill.render())


@control.get("/stats")
def stats(request: Request) -> Response:
    return JSONResponse(request.app.state.carriers.stats())


@control.post("/reset")
def reset(request: Request) -> Response:
    request.app.state.carriers.reset()
    return JSONResponse({"reset": True})


def create_carrier_sandbox_app(state: CarrierSandboxState | None = None) -> FastAPI:
    app = FastAPI(title="Daiyun carrier sandbox", docs_url=None, redoc_url=None)
    app.state.carriers = state if state is not None else CarrierSandboxState()
    app.include_router(control)
    app.include_router(carrier_router)
    return app
