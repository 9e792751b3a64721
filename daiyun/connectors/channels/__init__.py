"""The marketplace connectors by channel name, as shops and webhook routes name them."""

from __future__ import annotations

from daiyun.connectors.channels.amazon import AmazonConnector
from daiyun.connectors.channels.base import Connector, ConsumerFactory
from daiyun.connectors.channels.douyin import DouyinConnector
from daiyun.connectors.channels.jd import JdConnector
from daiyun.connectors.channels.pinduoduo import PinduoduoConnector
from daiyun.connectors.channels.pinduoduo_messages import PddMessageConsumer
from daiyun.connectors.channels.shopify import ShopifyConnector
from daiyun.connectors.channels.taobao import TaobaoConnector
from daiyun.connectors.channels.taobao_tmc import TmcConsumer
from daiyun.connectors.channels.woocommerce import WooCommerceConnector

CONNECTORS: dict[str, type[Connector]] = {
    connector.channel: connector
    for connector in (
        ShopifyConnector,
        WooCommerceConnector,
        AmazonConnector,
        TaobaoConnector,
        PinduoduoConnector,
        JdConnector,
        DouyinConnector,
    )
}


# Channels that announce changes over a long-lived connection, and the consumer of each.
PUSH_CONSUMERS: dict[str, ConsumerFactory] = {
    TaobaoConnector.channel: TmcConsumer,
    PinduoduoConnector.channel: PddMessageConsumer,
}


class UnknownChannel(LookupError):
    """No connector serves this channel name."""


def connector_for(channel: str) -> type[Connector]:
    """The connector class of a channel; raises :class:`UnknownChannel` for an unknown name."""
    try:
        return CONNECTORS[channel]
    except KeyError:
        known = ", ".join(sorted(CONNECTORS))
        raise UnknownChannel(f"no connector for channel {channel!r} (known: {known})") from None


__all__ = ["CONNECTORS", "PUSH_CONSUMERS", "Connector", "UnknownChannel", "connector_for"]
