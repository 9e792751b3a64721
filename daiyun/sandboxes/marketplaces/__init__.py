"""Sandbox marketplaces: local look-alikes of Shopify, WooCommerce, Amazon SP-API, Taobao/Tmall
(TOP), Pinduoduo, JD (JOS) and Douyin Shop.

No machine of the project can reach a real marketplace, so the connectors are exercised against
this sandbox instead. One FastAPI app serves every channel on one port, each under its own
prefix (``/shopify/{shop_domain}``, ``/woocommerce/{store}``, ``/amazon``, ``/taobao/{nick}``,
``/pinduoduo/{mall_id}``, ``/jd/{vendor_id}``, ``/douyin/{shop_id}``), and follows the wire
contract the connectors are written against: authentication and request signatures, token
refresh, pagination, rate limits in each marketplace's own terms, order documents in each
channel's JSON shape, signed webhooks pushed to a shop's ``webhook_url``, and the WebSocket push
of Taobao (TMC) and Pinduoduo. A control API under ``/_sandbox`` registers shops, creates
realistic orders, moves them through their life (pay, ship, refund, cancel) and injects faults
(throttling, server errors, slowness, duplicate or reordered webhooks, expired tokens).

Everything is held in memory: :func:`server.running_sandbox` starts a sandbox on an ephemeral
loopback port for a test, and :func:`server.serve` runs one for the demo, optionally creating
new orders on every shop at a steady pace.
"""
