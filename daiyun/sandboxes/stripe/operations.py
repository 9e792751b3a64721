"""The Stripe API operations the sandbox implements, with Stripe's rules for each.

Every operation takes the account state (its lock held by the caller) and the decoded
parameters, checks every parameter before it changes anything, and answers ``(status, object)``
or raises :class:`~daiyun.sandboxes.stripe.forms.StripeError`.

The invoice life: a draft is created (``invoice.created``), lines are added while it is a draft
(invoice items with ``invoice=<id>``; pending items only with
``pending_invoice_items_behavior=include``), finalization gives it a number and makes it ``open``
(``invoice.finalized``; an invoice with nothing due is ``paid`` at once, ``invoice.paid``), and
from ``open`` it is paid, voided or marked uncollectible. The sandbox never advances an invoice by
itself: ``auto_advance`` is reported, not acted on, and payments happen when asked
(``/pay``, or the control API's failed payment).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from daiyun.sandboxes.stripe.forms import ParamError, Params, StripeError, resource_missing
from daiyun.sandboxes.stripe.objects import (
    EMBEDDED_LINES,
    Customer,
    Invoice,
    InvoiceItem,
    invoice_prefix,
    new_id,
    render_customer,
    render_invoice_item,
    render_lines,
    unix_now,
)

if TYPE_CHECKING:
    from daiyun.sandboxes.stripe.state import StripeSandboxState

Result = tuple[int, dict[str, Any]]
COLLECTION_METHODS = ("charge_automatically", "send_invoice")
# Smart Retries try a failed automatic charge again some days later.
_RETRY_AFTER = 3 * 86400


def _customer(state: StripeSandboxState, customer_id: str, *, param: str) -> Customer:
    customer = state.customers.get(customer_id)
    if customer is None:
        raise resource_missing("customer", customer_id, param=param, status=400)
    return customer


def _invoice(state: StripeSandboxState, invoice_id: str) -> Invoice:
    invoice = state.invoices.get(invoice_id)
    if invoice is None:
        raise resource_missing("invoice", invoice_id)
    return invoice


def _answer_invoice(state: StripeSandboxState, invoice: Invoice) -> Result:
    return 200, state.render_invoice(invoice)


# -- customers ---------------------------------------------------------------------------------


def create_customer(state: StripeSandboxState, values: dict[str, Any]) -> Result:
    params = Params(values, {"name", "email", "description", "phone", "metadata"})
    name = params.string("name", max_length=256)
    email = params.string("email", max_length=512)
    if email is not None and email != "" and "@" not in email:
        raise ParamError(f"Invalid email address: {email}", param="email", code="email_invalid")
    description = params.string("description", max_length=350)
    phone = params.string("phone", max_length=20)
    metadata = params.metadata()
    customer = Customer(
        id=new_id("cus_", 14),
        created=unix_now(),
        name=name or None,
        email=email or None,
        description=description or None,
        phone=phone or None,
        metadata=metadata,
        invoice_prefix=invoice_prefix(),
    )
    state.customers[customer.id] = customer
    return 200, render_customer(customer)


def retrieve_customer(
    state: StripeSandboxState, values: dict[str, Any], customer_id: str
) -> Result:
    Params(values, set())
    customer = state.customers.get(customer_id)
    if customer is None:
        raise resource_missing("customer", customer_id)
    return 200, render_customer(customer)


# -- invoices ----------------------------------------------------------------------------------


def create_invoice(state: StripeSandboxState, values: dict[str, Any]) -> Result:
    params = Params(
        values,
        {
            "customer",
            "currency",
            "collection_method",
            "days_until_due",
            "due_date",
            "auto_advance",
            "description",
            "metadata",
            "pending_invoice_items_behavior",
        },
    )
    customer_id = params.required("customer")
    currency = params.currency() or state.default_currency
    method = params.choice("collection_method", COLLECTION_METHODS) or "charge_automatically"
    days_until_due = params.integer("days_until_due", minimum=0)
    due_date = params.integer("due_date", minimum=0)
    auto_advance = params.boolean("auto_advance")
    description = params.string("description", max_length=1500)
    metadata = params.metadata()
    pending = params.choice("pending_invoice_items_behavior", ("exclude", "include"))
    if method == "charge_automatically" and (days_until_due is not None or due_date is not None):
        param = "days_until_due" if days_until_due is not None else "due_date"
        raise ParamError(
            f"You can only set {param} when collection_method is send_invoice.", param=param
        )
    if method == "send_invoice" and days_until_due is None and due_date is None:
        raise ParamError(
            "Invoices with collection_method=send_invoice need days_until_due or due_date.",
            param="days_until_due",
            code="parameter_missing",
        )
    customer = _customer(state, customer_id, param="customer")
    invoice = Invoice(
        id=new_id("in_"),
        created=unix_now(),
        customer=customer.id,
        currency=currency,
        collection_method=method,
        days_until_due=days_until_due,
        due_date=due_date,
        auto_advance=bool(auto_advance),
        description=description or None,
        metadata=metadata,
    )
    if pending == "include":
        # Since 2022-08-01 pending items join a new invoice only when asked to.
        for item in state.invoice_items.values():
            if item.customer == customer.id and item.invoice is None and item.currency == currency:
                item.invoice = invoice.id
                invoice.items.append(item.id)
    state.invoices[invoice.id] = invoice
    state.emit("invoice.created", invoice)
    return _answer_invoice(state, invoice)


def retrieve_invoice(state: StripeSandboxState, values: dict[str, Any], invoice_id: str) -> Result:
    Params(values, set())
    return _answer_invoice(state, _invoice(state, invoice_id))


def list_invoice_lines(
    state: StripeSandboxState, values: dict[str, Any], invoice_id: str
) -> Result:
    params = Params(values, {"limit", "starting_after"})
    limit = params.integer("limit", minimum=1)
    if limit is not None and limit > 100:
        raise ParamError("Invalid limit: must be less than or equal to 100", param="limit")
    starting_after = params.string("starting_after")
    invoice = _invoice(state, invoice_id)
    if starting_after is not None and not any(
        state.invoice_items[item_id].line_id == starting_after for item_id in invoice.items
    ):
        raise resource_missing("line item", starting_after, param="starting_after", status=400)
    return 200, render_lines(
        invoice,
        state.invoice_items,
        limit=limit or EMBEDDED_LINES,
        starting_after=starting_after,
    )


def finalize_invoice(state: StripeSandboxState, values: dict[str, Any], invoice_id: str) -> Result:
    params = Params(values, {"auto_advance"})
    auto_advance = params.boolean("auto_advance")
    invoice = _invoice(state, invoice_id)
    if invoice.status != "draft":
        raise StripeError(
            400,
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
        )
    customer = state.customers[invoice.customer]
    now = unix_now()
    if auto_advance is not None:
        invoice.auto_advance = auto_advance
    invoice.number = f"{customer.invoice_prefix}-{customer.next_invoice_sequence:04d}"
    customer.next_invoice_sequence += 1
    # The customer's balance (negative: credit) is applied now; credit left over carries on.
    invoice.starting_balance = customer.balance
    applied = invoice.total(state.invoice_items) + invoice.starting_balance
    invoice.ending_balance = min(0, applied)
    customer.balance = invoice.ending_balance
    invoice.status = "open"
    invoice.finalized_at = now
    if invoice.collection_method == "send_invoice" and invoice.days_until_due is not None:
        invoice.due_date = now + invoice.days_until_due * 86400
    if invoice.collection_method == "charge_automatically" and invoice.auto_advance:
        invoice.next_payment_attempt = now + 3600
    state.emit("invoice.finalized", invoice)
    if invoice.amount_due(state.invoice_items) == 0:
        # Nothing to collect: Stripe marks such an invoice paid as it finalizes it.
        _mark_paid(state, invoice, now, out_of_band=False)
    return _answer_invoice(state, invoice)


def _mark_paid(state: StripeSandboxState, invoice: Invoice, now: int, *, out_of_band: bool) -> None:
    invoice.amount_paid = invoice.amount_due(state.invoice_items)
    invoice.status = "paid"
    invoice.paid_at = now
    invoice.paid_out_of_band = out_of_band
    invoice.next_payment_attempt = None
    if not out_of_band and invoice.amount_paid > 0:
        invoice.attempted = True
        invoice.attempt_count += 1
    state.emit("invoice.paid", invoice)


def pay_invoice(state: StripeSandboxState, values: dict[str, Any], invoice_id: str) -> Result:
    params = Params(
        values,
        {"paid_out_of_band", "forgive", "off_session", "payment_method", "source", "mandate"},
    )
    out_of_band = bool(params.boolean("paid_out_of_band"))
    params.boolean("forgive")
    params.boolean("off_session")
    params.string("payment_method")
    params.string("source")
    params.string("mandate")
    invoice = _invoice(state, invoice_id)
    if invoice.status == "paid":
        raise StripeError(400, "Invoice is already paid")
    if invoice.status not in ("open", "uncollectible"):
        raise StripeError(
            400, f"You can only pay an open or uncollectible invoice; this one is {invoice.status}."
        )
    _mark_paid(state, invoice, unix_now(), out_of_band=out_of_band)
    return _answer_invoice(state, invoice)


def void_invoice(state: StripeSandboxState, values: dict[str, Any], invoice_id: str) -> Result:
    Params(values, set())
    invoice = _invoice(state, invoice_id)
    if invoice.status not in ("open", "uncollectible"):
        raise StripeError(
            400,
            f"You can only void an open or uncollectible invoice; this one is {invoice.status}.",
        )
    # Whatever balance finalization consumed or left as credit goes back as it was.
    customer = state.customers[invoice.customer]
    customer.balance += invoice.starting_balance - (invoice.ending_balance or 0)
    invoice.status = "void"
    invoice.voided_at = unix_now()
    invoice.next_payment_attempt = None
    state.emit("invoice.voided", invoice)
    return _answer_invoice(state, invoice)


def mark_uncollectible(
    state: StripeSandboxState, values: dict[str, Any], invoice_id: str
) -> Result:
    Params(values, set())
    invoice = _invoice(state, invoice_id)
    if invoice.status != "open":
        raise StripeError(
            400,
            f"You can only mark an open invoice uncollectible; this one is {invoice.status}.",
        )
    invoice.status = "uncollectible"
    invoice.marked_uncollectible_at = unix_now()
    invoice.next_payment_attempt = None
    state.emit("invoice.marked_uncollectible", invoice)
    return _answer_invoice(state, invoice)


def record_failed_attempt(state: StripeSandboxState, invoice: Invoice) -> None:
    """A collection attempt that the customer's bank declined."""
    invoice.attempted = True
    invoice.attempt_count += 1
    invoice.next_payment_attempt = (
        unix_now() + _RETRY_AFTER if invoice.collection_method == "charge_automatically" else None
    )
    state.emit("invoice.payment_failed", invoice)


# -- invoice items -----------------------------------------------------------------------------


def create_invoice_item(state: StripeSandboxState, values: dict[str, Any]) -> Result:
    params = Params(
        values, {"customer", "invoice", "amount", "currency", "description", "metadata", "period"}
    )
    customer_id = params.required("customer")
    invoice_id = params.string("invoice")
    amount = params.integer("amount")
    currency = params.currency()
    description = params.string("description", max_length=500)
    metadata = params.metadata()
    period = params.nested("period", {"start", "end"})
    period_start = period_end = None
    if period is not None:
        period_start = period.integer("start", required=True, minimum=0)
        period_end = period.integer("end", required=True, minimum=0)
        if period_start is not None and period_end is not None and period_end < period_start:
            raise ParamError(
                "The period end must be on or after the period start.", param="period[end]"
            )
    if amount is None:
        raise ParamError(
            "Missing required param: amount.", param="amount", code="parameter_missing"
        )
    customer = _customer(state, customer_id, param="customer")
    invoice: Invoice | None = None
    if invoice_id is not None:
        invoice = state.invoices.get(invoice_id)
        if invoice is None:
            raise resource_missing("invoice", invoice_id, param="invoice", status=400)
        if invoice.customer != customer.id:
            raise StripeError(
                400,
                f"The invoice {invoice.id} belongs to another customer than {customer.id}.",
                param="invoice",
            )
        if invoice.status != "draft":
            raise StripeError(
                400,
                f"You can only add invoice items to a draft invoice; {invoice.id} is "
                f"{invoice.status}.",
                param="invoice",
                code="invoice_not_editable",
            )
        if currency is not None and currency != invoice.currency:
            raise StripeError(
                400,
                f"The currency of the invoice item ({currency}) must match the invoice's "
                f"({invoice.currency}).",
                param="currency",
            )
        currency = invoice.currency
    now = unix_now()
    item = InvoiceItem(
        id=new_id("ii_"),
        line_id=new_id("il_"),
        created=now,
        customer=customer.id,
        amount=amount,
        currency=currency or state.default_currency,
        description=description or None,
        metadata=metadata,
        period_start=now if period_start is None else period_start,
        period_end=now if period_end is None else period_end,
        invoice=invoice.id if invoice is not None else None,
    )
    state.invoice_items[item.id] = item
    if invoice is not None:
        invoice.items.append(item.id)
    return 200, render_invoice_item(item)


def retrieve_invoice_item(
    state: StripeSandboxState, values: dict[str, Any], item_id: str
) -> Result:
    Params(values, set())
    item = state.invoice_items.get(item_id)
    if item is None:
        raise resource_missing("invoiceitem", item_id)
    return 200, render_invoice_item(item)
