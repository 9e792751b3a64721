"""The Stripe sandbox's HTTP face: the v1 endpoints stripe-python calls, and a control API.

``/v1/...`` answers as Stripe does: form-encoded parameters, Bearer authentication, idempotency
keys, JSON objects and errors in Stripe's shape; any other ``/v1`` path is Stripe's
"Unrecognized request URL" 404. ``/_sandbox/...`` is for tests and the demo and needs no key:
register webhook endpoints, set delivery faults and flush held events, resend an event, fail a
payment, and read every invoice, event, delivery and API request the sandbox has seen.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from daiyun.sandboxes.stripe import operations
from daiyun.sandboxes.stripe.forms import StripeError
from daiyun.sandboxes.stripe.state import Operation, StripeSandboxState
from daiyun.sandboxes.stripe.webhooks import Faults

api = APIRouter(prefix="/v1", tags=["stripe: v1"])
control = APIRouter(prefix="/_sandbox", tags=["stripe sandbox: control"])


def _state(request: Request) -> StripeSandboxState:
    state: StripeSandboxState = request.app.state.stripe_sandbox
    return state


async def _call(request: Request, operation: Operation) -> Response:
    if request.method == "POST":
        raw = (await request.body()).decode("utf-8", errors="replace") or request.url.query
    else:
        raw = request.url.query
    answer = _state(request).execute(
        method=request.method,
        path=request.url.path,
        raw_params=raw,
        authorization=request.headers.get("authorization"),
        idempotency_key=request.headers.get("idempotency-key"),
        stripe_version=request.headers.get("stripe-version"),
        operation=operation,
    )
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


# -- Stripe's v1 API ---------------------------------------------------------------------------


@api.post("/customers")
async def create_customer(request: Request) -> Response:
    """Create a customer (``name``, ``email``, ``description``, ``phone``, ``metadata``)."""
    return await _call(request, operations.create_customer)


@api.get("/customers/{customer_id}")
async def retrieve_customer(customer_id: str, request: Request) -> Response:
    """Retrieve a customer."""
    return await _call(request, partial(operations.retrieve_customer, customer_id=customer_id))


@api.post("/invoices")
async def create_invoice(request: Request) -> Response:
    """Create a draft invoice for a customer."""
    return await _call(request, operations.create_invoice)


@api.get("/invoices/{invoice_id}")
async def retrieve_invoice(invoice_id: str, request: Request) -> Response:
    """Retrieve an invoice, with its first lines embedded."""
    return await _call(request, partial(operations.retrieve_invoice, invoice_id=invoice_id))


@api.get("/invoices/{invoice_id}/lines")
async def list_invoice_lines(invoice_id: str, request: Request) -> Response:
    """Page through an invoice's lines (``limit``, ``starting_after``)."""
    return await _call(request, partial(operations.list_invoice_lines, invoice_id=invoice_id))


@api.post("/invoices/{invoice_id}/finalize")
async def finalize_invoice(invoice_id: str, request: Request) -> Response:
    """Finalize a draft: number it, apply the customer balance, open it for payment."""
    return await _call(request, partial(operations.finalize_invoice, invoice_id=invoice_id))


@api.post("/invoices/{invoice_id}/pay")
async def pay_invoice(invoice_id: str, request: Request) -> Response:
    """Pay an open or uncollectible invoice (always succeeds in the sandbox)."""
    return await _call(request, partial(operations.pay_invoice, invoice_id=invoice_id))


@api.post("/invoices/{invoice_id}/void")
async def void_invoice(invoice_id: str, request: Request) -> Response:
    """Void an open or uncollectible invoice."""
    return await _call(request, partial(operations.void_invoice, invoice_id=invoice_id))


@api.post("/invoices/{invoice_id}/mark_uncollectible")
async def mark_uncollectible(invoice_id: str, request: Request) -> Response:
    """Mark an open invoice uncollectible."""
    return await _call(request, partial(operations.mark_uncollectible, invoice_id=invoice_id))


@api.post("/invoiceitems")
async def create_invoice_item(request: Request) -> Response:
    """Create an invoice item: a line of a draft invoice (``invoice=``) or a pending one."""
    return await _call(request, operations.create_invoice_item)


@api.get("/invoiceitems/{item_id}")
async def retrieve_invoice_item(item_id: str, request: Request) -> Response:
    """Retrieve an invoice item."""
    return await _call(request, partial(operations.retrieve_invoice_item, item_id=item_id))


@api.api_route(
    "/{rest:path}", methods=["GET", "POST", "DELETE", "PUT", "PATCH"], include_in_schema=False
)
async def unrecognized(rest: str, request: Request) -> Response:
    """Anything else under /v1 is answered as Stripe answers an unknown URL."""
    error = StripeError(
        404,
        f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/.",
    )
    return JSONResponse(error.body(), status_code=404)


# -- control API -------------------------------------------------------------------------------


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, pattern=r"^https?://")
    secret: str | None = Field(None, min_length=1, max_length=255)
    enabled_events: list[str] = Field(default_factory=lambda: ["*"], min_length=1)


class FaultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duplicate: int = Field(1, ge=1, le=10)
    reverse: bool = False
    hold: bool = False
    delay_ms: int = Field(0, ge=0, le=60_000)


class FlushIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reverse: bool | None = None


class ResendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = None


@control.post("/webhook_endpoints", status_code=201)
def add_webhook_endpoint(body: EndpointIn, request: Request) -> dict[str, Any]:
    """Send events to ``url``, signed with ``secret`` (one is made up when none is given)."""
    try:
        endpoint = _state(request).add_endpoint(body.url, body.secret, tuple(body.enabled_events))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    return endpoint.describe()


@control.get("/webhook_endpoints")
def list_webhook_endpoints(request: Request) -> dict[str, Any]:
    """The registered endpoints, secrets included (this is a test account)."""
    state = _state(request)
    with state.lock:
        return {"data": [endpoint.describe() for endpoint in state.endpoints.values()]}


@control.delete("/webhook_endpoints/{endpoint_id}")
def remove_webhook_endpoint(endpoint_id: str, request: Request) -> dict[str, Any]:
    """Stop sending events to an endpoint."""
    try:
        _state(request).remove_endpoint(endpoint_id)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"id": endpoint_id, "deleted": True}


@control.get("/faults")
def get_faults(request: Request) -> dict[str, Any]:
    """The delivery faults in force."""
    return _state(request).webhooks.faults.as_dict()


@control.post("/faults")
def set_faults(body: FaultsIn, request: Request) -> dict[str, Any]:
    """Replace the delivery faults: ``duplicate`` copies, ``reverse``, ``hold``, ``delay_ms``."""
    return _state(request).set_faults(Faults(**body.model_dump())).as_dict()


@control.delete("/faults")
def clear_faults(request: Request) -> dict[str, Any]:
    """Deliver normally again (held events stay held until flushed)."""
    return _state(request).set_faults(Faults()).as_dict()


@control.post("/webhooks/flush")
def flush_webhooks(request: Request, body: FlushIn | None = None) -> dict[str, int]:
    """Release held deliveries, newest first if ``reverse`` (by default as the fault says)."""
    reverse = body.reverse if body is not None else None
    return {"flushed": _state(request).flush_webhooks(reverse=reverse)}


@control.get("/webhooks/deliveries")
def list_deliveries(request: Request) -> dict[str, Any]:
    """Every delivery attempt: event, endpoint, time, the receiver's status."""
    state = _state(request)
    return {
        "data": [record.as_dict() for record in state.webhooks.records()],
        "held": state.webhooks.held_count(),
    }


@control.get("/events")
def list_events(request: Request) -> dict[str, Any]:
    """Every event raised, oldest first, as its JSON body."""
    return {"data": _state(request).event_documents()}


@control.post("/events/{event_id}/resend")
def resend_event(event_id: str, request: Request, body: ResendIn | None = None) -> dict[str, Any]:
    """Deliver an event again (same id, same body, fresh signature)."""
    try:
        queued = _state(request).resend(event_id, body.endpoint if body is not None else None)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"id": event_id, "queued": queued}


@control.post("/invoices/{invoice_id}/fail_payment")
def fail_payment(invoice_id: str, request: Request) -> dict[str, Any]:
    """A payment attempt on an open invoice is declined (``invoice.payment_failed``)."""
    try:
        return _state(request).fail_payment(invoice_id)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc


@control.get("/invoices")
def list_invoices(request: Request) -> dict[str, Any]:
    """Every invoice of the account, oldest first."""
    return {"data": _state(request).all_invoices()}


@control.get("/requests")
def list_requests(request: Request) -> dict[str, Any]:
    """The API requests received: method, path, idempotency key, status, whether replayed."""
    return {"data": _state(request).requests()}


@control.post("/api_keys", status_code=201)
def add_api_key(request: Request) -> dict[str, str]:
    """Another secret key of the account; idempotency keys are scoped per secret key."""
    return {"api_key": _state(request).add_api_key()}


def create_stripe_sandbox_app(state: StripeSandboxState | None = None) -> FastAPI:
    """The sandbox app; ``state`` is shared with the caller if given."""
    app = FastAPI(
        title="Daiyun Stripe sandbox",
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.stripe_sandbox = state if state is not None else StripeSandboxState()
    app.include_router(control)
    app.include_router(api)
    return app
