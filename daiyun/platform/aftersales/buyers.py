"""What after-sales knows of a buyer and tells them: whether they are trusted with instant
refunds (极速退款: enough earlier orders, few recent cases, as the merchant sets it), and the
message telling them of each decision on their case in the conversation they asked in."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from daiyun.core.ids import utcnow
from daiyun.core.money import to_major
from daiyun.platform.aftersales import repository, rules
from daiyun.platform.aftersales.models import Case, Settings
from daiyun.platform.aftersales.rules import Action
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.orders import buyers as order_buyers


def trusted(session: Session, row: Settings, order: Any, case_id: uuid.UUID) -> bool:
    if row.trusted_min_orders == 0 and row.trusted_max_cases is None:
        return True  # every buyer is trusted
    earlier = order_buyers.earlier_orders(session, order, rules.TRUST_HISTORY)
    if earlier is None:
        return False  # a buyer we cannot recognise has no history to trust
    since = utcnow() - rules.TRUST_WINDOW
    cases = repository.cases_on_orders(session, [*earlier, order.id], since, case_id)
    return rules.trusted(len(earlier), cases, row.trusted_min_orders, row.trusted_max_cases)


def tell(session: Session, case: Case, action: Action, detail: dict[str, Any]) -> None:
    """The buyer asked in a conversation: they hear the decision there."""
    if case.conversation_id is None:
        return
    amount = f"{to_major(detail.get('amount_minor', 0), case.currency):,} {case.currency}"
    text = rules.buyer_notice(action, case.state, case.refusal_reason or "", amount)
    if text is not None:
        cs_service.notify_buyer(session, case.conversation_id, text)
