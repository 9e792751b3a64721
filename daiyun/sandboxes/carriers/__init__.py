"""Sandbox carriers: a local look-alike of the e-waybill (电子面单) services of SF Express, ZTO,
YTO and JD Logistics, with their tracking.

No machine of the project can reach a real carrier, so the carrier client
(:mod:`daiyun.connectors.carriers`) is exercised against this sandbox. One FastAPI app serves
every carrier under its own prefix (``/sf``, ``/zto``, ``/yto``, ``/jd``) with the same wire,
documented in :mod:`.app`: request a waybill number with the label's routing fields, cancel it,
read its tracking events. The real services differ in signing and field names (each has its
own open platform); where the sandbox's choice is not what the carrier documents, the docstring
says UNCONFIRMED. Waybill numbers follow each carrier's visible format (:mod:`.state`).

A control API under ``/_sandbox`` injects faults (5xx, 429 with Retry-After), advances tracking
(to delivered or to an exception) and reads counters. An address the carrier does not serve is
refused: any recipient address containing ``不派送`` or ``NO-SERVICE`` (tests and the demo use
it to produce the "address not serviceable" exception).

Everything is held in memory: :func:`server.running_carrier_sandbox` starts one on an
ephemeral loopback port for a test, :func:`server.serve` runs one for the demo.
"""

from daiyun.sandboxes.carriers.server import CarrierSandbox, running_carrier_sandbox

__all__ = ["CarrierSandbox", "running_carrier_sandbox"]
