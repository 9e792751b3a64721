"""Secrets at rest: AES-256-GCM bound to the tenant, with key versions for rotation.

A ciphertext reads ``v<version>.<base64(nonce || sealed)>``. The tenant id and a purpose are the
associated data, so a ciphertext copied to another tenant's row (or another field) does not
decrypt. Keys come from ``DAIYUN_ENCRYPTION_KEYS`` as ``version:base64key`` pairs, the first
being the one that encrypts; older versions stay to decrypt until ``rotate`` has rewritten them.
"""

from __future__ import annotations

import base64
import os
import uuid
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from daiyun.core.config import get_settings


class SecretUnreadable(ValueError):
    """The ciphertext is malformed, was made under an unknown key, or belongs elsewhere."""


def parse_keys(spec: str) -> dict[int, bytes]:
    """``"2:base64,1:base64"`` → {2: key, 1: key}, in the given order (first encrypts)."""
    keys: dict[int, bytes] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        version, _, encoded = part.partition(":")
        key = base64.b64decode(encoded)
        if not version.isdigit() or len(key) != 32:
            raise ValueError("each encryption key is 'version:base64 of 32 bytes'")
        keys[int(version)] = key
    return keys


@lru_cache
def _keyring(spec: str, secret_key: str) -> dict[int, bytes]:
    if spec:
        return parse_keys(spec)
    # Without configured keys (a laptop demo) derive version 0 from the secret key.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"daiyun-secrets")
    return {0: hkdf.derive(secret_key.encode())}


def keyring() -> dict[int, bytes]:
    settings = get_settings()
    return _keyring(settings.encryption_keys, settings.secret_key)


def _aad(tenant_id: uuid.UUID, purpose: str) -> bytes:
    return tenant_id.bytes + purpose.encode()


def encrypt(plaintext: str, tenant_id: uuid.UUID, purpose: str) -> str:
    version, key = next(iter(keyring().items()))
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), _aad(tenant_id, purpose))
    return f"v{version}." + base64.urlsafe_b64encode(nonce + sealed).decode()


def key_version(ciphertext: str) -> int:
    head, _, _ = ciphertext.partition(".")
    if not head.startswith("v") or not head[1:].isdigit():
        raise SecretUnreadable("not a Daiyun ciphertext")
    return int(head[1:])


def decrypt(ciphertext: str, tenant_id: uuid.UUID, purpose: str) -> str:
    key = keyring().get(key_version(ciphertext))
    if key is None:
        raise SecretUnreadable("encrypted under a key that is no longer configured")
    try:
        raw = base64.urlsafe_b64decode(ciphertext.partition(".")[2])
        return AESGCM(key).decrypt(raw[:12], raw[12:], _aad(tenant_id, purpose)).decode()
    except (InvalidTag, ValueError) as exc:
        raise SecretUnreadable("the ciphertext does not belong to this tenant or field") from exc


def rotate(ciphertext: str, tenant_id: uuid.UUID, purpose: str) -> str:
    """Re-encrypt under the current key (unchanged if it already is)."""
    if key_version(ciphertext) == next(iter(keyring())):
        return ciphertext
    return encrypt(decrypt(ciphertext, tenant_id, purpose), tenant_id, purpose)
