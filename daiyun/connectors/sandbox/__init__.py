"""Sandbox marketplaces: local look-alikes of Shopify, WooCommerce and Amazon SP-API.

No machine of the project can reach a real marketplace, so the connectors are exercised against
this sandbox instead. One FastAPI app serves all three channels on one port, each under its own
prefix (``/shopify/{shop_domain}``, ``/woocommerce/{store}``, ``/amazon``), and follows the wire
contract the connectors are written against: authentication, pagination, rate-limit headers and
429s, order documents in each channel's JSON shape, and signed webhooks pushed to a shop's
``webhook_url``. A control API under ``/_sandbox`` registers shops, creates realistic orders,
moves them through their life (pay, ship, refund, cancel) and injects faults (throttling, server
errors, slowness, duplicate or reordered webhooks, expired tokens).

Everything is held in memory: :func:`server.running_sandbox` starts a sandbox on an ephemeral
loopback port for a test, and :func:`server.serve` runs one for the demo, optionally creating
new orders on every shop at a steady pace.
"""
