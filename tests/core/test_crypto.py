"""SECURITY.md item 19: secrets at rest are bound to their tenant and survive key rotation."""

from __future__ import annotations

import base64
import os
import uuid

import pytest

from daiyun.core import crypto
from daiyun.core.config import get_settings


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    old, new = _key(), _key()
    monkeypatch.setattr(get_settings(), "encryption_keys", f"1:{old}")
    return old, new


def test_round_trip_and_no_plaintext(keys: tuple[str, str]) -> None:
    tenant = uuid.uuid4()
    sealed = crypto.encrypt("shpat_secret_token", tenant, "shop.credentials")
    assert "shpat_secret_token" not in sealed
    assert sealed.startswith("v1.")
    assert crypto.decrypt(sealed, tenant, "shop.credentials") == "shpat_secret_token"


def test_copied_to_another_tenant_or_field_does_not_decrypt(keys: tuple[str, str]) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    sealed = crypto.encrypt("secret", a, "shop.credentials")
    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(sealed, b, "shop.credentials")
    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(sealed, a, "stripe.key")


def test_rotation_rewrites_under_new_key_and_old_key_can_go(
    keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = keys
    tenant = uuid.uuid4()
    sealed = crypto.encrypt("secret", tenant, "p")
    monkeypatch.setattr(get_settings(), "encryption_keys", f"2:{new},1:{old}")
    rotated = crypto.rotate(sealed, tenant, "p")
    assert rotated.startswith("v2.")
    assert crypto.rotate(rotated, tenant, "p") == rotated
    monkeypatch.setattr(get_settings(), "encryption_keys", f"2:{new}")
    assert crypto.decrypt(rotated, tenant, "p") == "secret"
    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(sealed, tenant, "p")


def test_bad_key_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.parse_keys("1:" + base64.b64encode(b"short").decode())
