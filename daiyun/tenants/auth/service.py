"""Sign-in, bearer tokens, API keys and throttling."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.tenants.auth.models import AccessToken, ApiKey, LoginFailure, User
from daiyun.tenants.auth.passwords import verify_password

TOKEN_PREFIX = "dya_"
API_KEY_PREFIX = "dyk_"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _throttle_digest(value: str) -> str:
    # Keyed, so the table of failures does not reveal which addresses tried to sign in.
    return hmac.new(get_settings().secret_key.encode(), value.encode(), "sha256").hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


INVALID_LOGIN = Problem(
    401,
    "invalid-credentials",
    "The e-mail address or password is not correct",
    headers={"WWW-Authenticate": "Bearer"},
)


def _throttle_keys(email: str, address: str) -> list[tuple[str, str, int]]:
    settings = get_settings()
    return [
        (
            "account",
            _throttle_digest(normalize_email(email)),
            settings.login_max_failures_per_account,
        ),
        ("address", _throttle_digest(address), settings.login_max_failures_per_address),
    ]


def _check_throttle(session: Session, email: str, address: str) -> None:
    window = get_settings().login_window_seconds
    since = utcnow() - timedelta(seconds=window)
    for scope, key, limit in _throttle_keys(email, address):
        count = session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.scope == scope, LoginFailure.key == key, LoginFailure.at >= since)
        )
        if (count or 0) >= limit:
            raise Problem(
                429,
                "too-many-attempts",
                "Too many failed sign-ins; try again later",
                headers={"Retry-After": str(window)},
            )


def _record_failure(email: str, address: str) -> None:
    # Its own transaction: the failed request rolls back, the count must not.
    with unit_of_work() as session:
        for scope, key, _ in _throttle_keys(email, address):
            session.add(LoginFailure(scope=scope, key=key))


def authenticate(session: Session, email: str, password: str, address: str) -> User:
    """The active user with this e-mail address and password (the API and the portal sign in here).

    Unknown accounts, wrong passwords and inactive users get the same answer, after the same
    work; failures count per account name and per client address whether or not the account
    exists.
    """
    _check_throttle(session, email, address)
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    ok, new_hash = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        _record_failure(email, address)
        raise INVALID_LOGIN
    if new_hash:
        user.password_hash = new_hash
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.scope == "account",
            LoginFailure.key == _throttle_digest(normalize_email(email)),
        )
    )
    return user


def login(session: Session, email: str, password: str, address: str) -> IssuedToken:
    """Check the password (see :func:`authenticate`) and issue a bearer token."""
    user = authenticate(session, email, password, address)
    ttl = timedelta(hours=get_settings().token_ttl_hours)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(AccessToken(token_hash=_digest(token), user_id=user.id, expires_at=utcnow() + ttl))
    session.flush()
    return IssuedToken(token=token, expires_in=int(ttl.total_seconds()))


def resolve_bearer(session: Session, token: str) -> User | None:
    """The active user behind a bearer token or API key, or None."""
    now = utcnow()
    if token.startswith(API_KEY_PREFIX):
        key = session.scalar(
            select(ApiKey).where(ApiKey.key_hash == _digest(token), ApiKey.revoked_at.is_(None))
        )
        if key is None:
            return None
        key.last_used_at = now
        user = session.get(User, key.user_id)
    else:
        access = session.scalar(
            select(AccessToken).where(
                AccessToken.token_hash == _digest(token),
                AccessToken.revoked_at.is_(None),
                AccessToken.expires_at > now,
            )
        )
        user = session.get(User, access.user_id) if access else None
    return user if user is not None and user.is_active else None


def logout(session: Session, token: str) -> None:
    """Revoke the bearer token used for this request (API keys are revoked by id)."""
    access = session.scalar(select(AccessToken).where(AccessToken.token_hash == _digest(token)))
    if access is not None and access.revoked_at is None:
        access.revoked_at = utcnow()


def create_api_key(session: Session, user_id: uuid.UUID, name: str) -> tuple[ApiKey, str]:
    """Create an API key; the secret is returned once and only its hash is kept."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(key_hash=_digest(secret), prefix=secret[:12], name=name, user_id=user_id)
    session.add(key)
    session.flush()
    audit.record(session, "api_key.created", f"api_key:{key.id}", {"name": name})
    return key, secret


def list_api_keys(session: Session, user_id: uuid.UUID) -> list[ApiKey]:
    return list(
        session.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id))
    )


def revoke_api_key(session: Session, user_id: uuid.UUID, key_id: uuid.UUID) -> None:
    key = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id))
    if key is None:
        raise Problem(404, "not-found", "No such API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(session, "api_key.revoked", f"api_key:{key.id}")
