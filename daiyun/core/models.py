"""The kernel's own tables: the outbox, the audit log and idempotency records."""

from daiyun.core.audit.models import AuditEntry
from daiyun.core.events.models import HandledEvent, OutboxEvent
from daiyun.core.idempotency import IdempotencyRecord

__all__ = ["AuditEntry", "HandledEvent", "IdempotencyRecord", "OutboxEvent"]
