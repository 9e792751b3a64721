"""One outbound call to a shop's marketplace, as the departments' tasks make it: the checks
before (the shop connected and active, its tenant working, the capability there), the client
keyed by the shop (its pulls and pushes share its rate bucket), tokens a call refreshed stored,
and the connector's errors sorted into "refused" (sending again will not help) and "retryable"
(nothing is known to have changed), masked of the shop's secrets. ``shipments.py`` and
``messages.py`` are its two users."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.base import Connector
from daiyun.connectors.channels.outbound import CapabilityMissing
from daiyun.connectors.errors import ConnectorError, HostNotAllowed, for_display
from daiyun.connectors.http import ShopHttp
from daiyun.connectors.models import ShopStatus

# Attempts per call inside one task run (the task tries again later).
ATTEMPTS = 4
HttpFactory = Callable[[str], ShopHttp]


@contextmanager
def shop_connector(
    session: Session,
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    capability: str,
    what: str,
    *,
    refused: type[ConnectorError],
    retryable: type[ConnectorError],
    refusals: tuple[type[Exception], ...] = (),
    http_factory: HttpFactory | None = None,
) -> Iterator[Connector]:
    """The shop's connector for one call of ``capability`` (``what`` names it in a refusal);
    its errors raised as ``refused`` (for
    ``refusals``, a missing capability or host) or ``retryable`` (any other connector error).
    Refreshed tokens are stored on the shop in ``session`` (flushed, not committed)."""
    shop = shop_service.get(session, shop_id)
    if shop.status == ShopStatus.disconnected:
        raise refused("The shop is disconnected")
    if shop.status != ShopStatus.active:
        raise retryable(f"The shop is {shop.status.value}")
    dormant = shop_service.dormant_tenant(session, tenant_id)
    if dormant is not None:
        raise retryable(f"The tenant is {dormant.value}")
    connector_cls = connector_for(shop.channel)
    if capability not in connector_cls.outbound:
        raise refused(f"{shop.channel} has no {what} API ({capability})")
    secrets = shop_service.secrets_of(shop)
    make_http = http_factory or (lambda key: ShopHttp(key, max_attempts=ATTEMPTS))
    with make_http(str(shop_id)) as http:
        connector = connector_cls(shop_service.access(shop), http)
        refusing: tuple[type[Exception], ...] = (*refusals, CapabilityMissing, HostNotAllowed)
        try:
            yield connector
        except refusing as exc:
            raise refused(for_display(exc, secrets)) from exc
        except ConnectorError as exc:
            # Throttled or failing past the retries, a malformed answer, a token to renew:
            # nothing says the marketplace refused this.
            raise retryable(for_display(exc, secrets)) from exc
        finally:
            if connector.refreshed_credentials:
                shop_service.store_refreshed(session, shop, connector.refreshed_credentials)
                connector.refreshed_credentials = None
