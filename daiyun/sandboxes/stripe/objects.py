"""The sandbox's Stripe objects and how they render as Stripe's JSON.

Customers, invoice items and invoices are kept as small dataclasses and rendered on every answer
in the shape stripe-python hydrates (``object``, prefixed ids, ``livemode: false``, unix
``created``, amounts as integers in the currency's minor unit, currencies lower-case). Fields the
sandbox does not model carry Stripe's empty values (``null``, ``[]``) so code reading them sees
what a plain test-mode account answers.

Invoice amounts follow Stripe's arithmetic without tax or discounts: ``subtotal`` and ``total``
are the sum of the lines; at finalization the customer's balance (negative = credit) is applied,
so ``amount_due = max(0, total + starting_balance)`` and a credit left over becomes the
``ending_balance``, carried to the customer for the next invoice.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any, Literal

InvoiceStatus = Literal["draft", "open", "paid", "uncollectible", "void"]
# An invoice embeds its first lines only; the rest are paged from /v1/invoices/{id}/lines.
EMBEDDED_LINES = 10
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """A Stripe-looking identifier: ``cus_``, ``in_``, ``ii_``, ``il_``, ``evt_``, ``req_``..."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def unix_now() -> int:
    return int(time.time())


def invoice_prefix() -> str:
    """A customer's invoice number prefix: eight upper-case letters and digits."""
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8))


@dataclass(slots=True)
class Customer:
    id: str
    created: int
    name: str | None
    email: str | None
    description: str | None
    phone: str | None
    metadata: dict[str, str]
    invoice_prefix: str
    next_invoice_sequence: int = 1
    # Negative is credit the customer holds, applied to the next finalized invoice.
    balance: int = 0


@dataclass(slots=True)
class InvoiceItem:
    id: str
    line_id: str
    created: int
    customer: str
    amount: int
    currency: str
    description: str | None
    metadata: dict[str, str]
    period_start: int
    period_end: int
    invoice: str | None = None


@dataclass(slots=True)
class Invoice:
    id: str
    created: int
    customer: str
    currency: str
    collection_method: str
    days_until_due: int | None
    due_date: int | None
    auto_advance: bool
    description: str | None
    metadata: dict[str, str]
    status: InvoiceStatus = "draft"
    number: str | None = None
    items: list[str] = field(default_factory=list)
    starting_balance: int = 0
    ending_balance: int | None = None
    amount_paid: int = 0
    attempt_count: int = 0
    attempted: bool = False
    next_payment_attempt: int | None = None
    paid_out_of_band: bool = False
    finalized_at: int | None = None
    paid_at: int | None = None
    voided_at: int | None = None
    marked_uncollectible_at: int | None = None

    def total(self, items: dict[str, InvoiceItem]) -> int:
        return sum(items[item_id].amount for item_id in self.items)

    def amount_due(self, items: dict[str, InvoiceItem]) -> int:
        return max(0, self.total(items) + self.starting_balance)


def render_customer(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "object": "customer",
        "address": None,
        "balance": customer.balance,
        "created": customer.created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": customer.description,
        "discount": None,
        "email": customer.email,
        "invoice_prefix": customer.invoice_prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": dict(customer.metadata),
        "name": customer.name,
        "next_invoice_sequence": customer.next_invoice_sequence,
        "phone": customer.phone,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def render_invoice_item(item: InvoiceItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "object": "invoiceitem",
        "amount": item.amount,
        "currency": item.currency,
        "customer": item.customer,
        "date": item.created,
        "description": item.description,
        "discountable": True,
        "discounts": [],
        "invoice": item.invoice,
        "livemode": False,
        "metadata": dict(item.metadata),
        "parent": None,
        "period": {"start": item.period_start, "end": item.period_end},
        "pricing": None,
        "proration": False,
        "quantity": 1,
        "tax_rates": [],
        "test_clock": None,
    }


def render_line(item: InvoiceItem, invoice_id: str) -> dict[str, Any]:
    return {
        "id": item.line_id,
        "object": "line_item",
        "amount": item.amount,
        "currency": item.currency,
        "description": item.description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": dict(item.metadata),
        "parent": {
            "type": "invoice_item_details",
            "invoice_item_details": {
                "invoice_item": item.id,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": None,
            },
            "subscription_item_details": None,
        },
        "period": {"start": item.period_start, "end": item.period_end},
        "pretax_credit_amounts": [],
        "pricing": None,
        "quantity": 1,
        "subtotal": item.amount,
        "taxes": [],
    }


def render_lines(
    invoice: Invoice, items: dict[str, InvoiceItem], *, limit: int, starting_after: str | None
) -> dict[str, Any]:
    """A page of an invoice's lines as Stripe's list object."""
    lines = [items[item_id] for item_id in invoice.items]
    start = 0
    if starting_after is not None:
        ids = [line.line_id for line in lines]
        start = ids.index(starting_after) + 1
    page = lines[start : start + limit]
    return {
        "object": "list",
        "data": [render_line(line, invoice.id) for line in page],
        "has_more": start + limit < len(lines),
        "total_count": len(lines),
        "url": f"/v1/invoices/{invoice.id}/lines",
    }


def render_invoice(
    invoice: Invoice, customer: Customer, items: dict[str, InvoiceItem]
) -> dict[str, Any]:
    total = invoice.total(items)
    amount_due = invoice.amount_due(items)
    automatically_finalizes_at = (
        invoice.created + 3600 if invoice.status == "draft" and invoice.auto_advance else None
    )
    return {
        "id": invoice.id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Daiyun sandbox",
        "amount_due": amount_due,
        "amount_overpaid": 0,
        "amount_paid": invoice.amount_paid,
        "amount_remaining": amount_due - invoice.amount_paid,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": invoice.attempt_count,
        "attempted": invoice.attempted,
        "auto_advance": invoice.auto_advance,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "automatically_finalizes_at": automatically_finalizes_at,
        "billing_reason": "manual",
        "collection_method": invoice.collection_method,
        "created": invoice.created,
        "currency": invoice.currency,
        "custom_fields": None,
        "customer": invoice.customer,
        "customer_address": None,
        "customer_email": customer.email,
        "customer_name": customer.name,
        "customer_phone": customer.phone,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": invoice.description,
        "discounts": [],
        "due_date": invoice.due_date,
        "effective_at": invoice.finalized_at,
        "ending_balance": invoice.ending_balance,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": render_lines(invoice, items, limit=EMBEDDED_LINES, starting_after=None),
        "livemode": False,
        "metadata": dict(invoice.metadata),
        "next_payment_attempt": invoice.next_payment_attempt,
        "number": invoice.number,
        "on_behalf_of": None,
        "parent": None,
        "period_end": invoice.created,
        "period_start": invoice.created,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": invoice.starting_balance,
        "statement_descriptor": None,
        "status": invoice.status,
        "status_transitions": {
            "finalized_at": invoice.finalized_at,
            "marked_uncollectible_at": invoice.marked_uncollectible_at,
            "paid_at": invoice.paid_at,
            "voided_at": invoice.voided_at,
        },
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "test_clock": None,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": total,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }
