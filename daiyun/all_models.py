"""Imports every model so the metadata (Alembic, the registry of tenant tables) is complete."""

from daiyun.billing.models import (
    BilledFact,
    BillingAccount,
    Contract,
    ContractVersion,
    ServiceFactRecord,
    Statement,
    StatementLine,
    StripeEvent,
)
from daiyun.connectors.models import Shop, SyncRun, WebhookDelivery, WebhookRoute
from daiyun.core.audit.models import AuditEntry
from daiyun.core.events.models import HandledEvent, OutboxEvent
from daiyun.core.idempotency import IdempotencyRecord
from daiyun.platform.orders.models import Order, OrderEvent, OrderLine, OrderRefund, ReviewPolicy
from daiyun.platform.reports.models import DailyProductSales, DailySales
from daiyun.portal.models import PortalSession
from daiyun.tenants.auth.models import AccessToken, ApiKey, LoginFailure, User
from daiyun.tenants.models import Membership, Tenant

__all__ = [
    "AccessToken",
    "ApiKey",
    "AuditEntry",
    "BilledFact",
    "BillingAccount",
    "Contract",
    "ContractVersion",
    "DailyProductSales",
    "DailySales",
    "HandledEvent",
    "IdempotencyRecord",
    "LoginFailure",
    "Membership",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OrderRefund",
    "OutboxEvent",
    "PortalSession",
    "ReviewPolicy",
    "ServiceFactRecord",
    "Shop",
    "Statement",
    "StatementLine",
    "StripeEvent",
    "SyncRun",
    "Tenant",
    "User",
    "WebhookDelivery",
    "WebhookRoute",
]
