"""Sign-in, bearer tokens, API keys and throttling."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.tenants.auth import deferred
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


# Sign-in throttling. Failures are counted under three keys, each a keyed hash:
#   "pair"    (account, address): the limit that refuses, so one address guessing one account
#             is stopped without touching anyone else;
#   "address" the client address: one address spraying many accounts is stopped;
#   "account" the account alone: never refuses (else anyone could lock anyone out); once it
#             passes its limit the account is under attack and each address gets fewer tries
#             at it (STRICT_PAIR_LIMIT), which slows a spread-out attack to a crawl while an
#             address with no failures still signs in with the right password.
STRICT_PAIR_LIMIT = 2


@dataclass(frozen=True)
class _Key:
    scope: str
    key: str


def _keys(email: str, address: str) -> tuple[_Key, _Key, _Key]:
    account = normalize_email(email)
    return (
        _Key("pair", _throttle_digest(f"{account}\n{address}")),
        _Key("address", _throttle_digest(address)),
        _Key("account", _throttle_digest(account)),
    )


def _since() -> datetime:
    return utcnow() - timedelta(seconds=get_settings().login_window_seconds)


def _count(session: Session, key: _Key, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(
                LoginFailure.scope == key.scope,
                LoginFailure.key == key.key,
                LoginFailure.at >= since,
            )
        )
        or 0
    )


def _refuse() -> Problem:
    # The whole window: an honest upper bound, and the same for every account and address, so
    # the answer tells nothing about which failures were on record.
    return Problem(
        429,
        "too-many-attempts",
        "Too many failed sign-ins; try again later",
        headers={"Retry-After": str(get_settings().login_window_seconds)},
    )


def _check_throttle(session: Session, email: str, address: str) -> None:
    settings = get_settings()
    since = _since()
    pair, by_address, account = _keys(email, address)
    count = _count(session, by_address, since)
    if count >= settings.login_max_failures_per_address:
        raise _refuse()
    count = _count(session, pair, since)
    if count == 0:
        return  # an address with no failures at this account is never refused
    limit = settings.login_max_failures_per_account
    if _count(session, account, since) >= limit:
        limit = min(limit, STRICT_PAIR_LIMIT)
    if count >= limit:
        raise _refuse()


def _any_of(keys: tuple[_Key, ...]) -> ColumnElement[bool]:
    return or_(*(and_(LoginFailure.scope == k.scope, LoginFailure.key == k.key) for k in keys))


def _record_failure(email: str, address: str) -> None:
    with unit_of_work() as session:
        keys = _keys(email, address)
        for key in keys:
            session.add(LoginFailure(scope=key.scope, key=key.key))
        # Pruning these keys' expired rows here keeps hot keys short; prune_login_failures
        # (beat) sweeps the rest.
        session.execute(delete(LoginFailure).where(_any_of(keys), LoginFailure.at < _since()))


def prune_login_failures(session: Session) -> int:
    """Delete failures older than the window (they no longer count); returns how many."""
    result = session.execute(delete(LoginFailure).where(LoginFailure.at < _since()))
    return int(getattr(result, "rowcount", 0) or 0)


def authenticate(session: Session, email: str, password: str, address: str) -> User:
    """The active user with this e-mail address and password (the API and the portal sign in here).

    Unknown accounts, wrong passwords and inactive users get the same answer, after the same
    work; failures count whether or not the account exists (see the throttling notes above).
    A failure is written after the request (:mod:`deferred`), since the refused request rolls
    back and the count must not.
    """
    _check_throttle(session, email, address)
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    ok, new_hash = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        deferred.defer(session, functools.partial(_record_failure, email, address))
        raise INVALID_LOGIN
    if new_hash:
        user.password_hash = new_hash
    # The password was right: the account's and this address's counts start over (an attack
    # still going on crosses the account's limit again after as many failures).
    pair, _, account = _keys(email, address)
    session.execute(delete(LoginFailure).where(_any_of((pair, account))))
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


def is_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


def logout(session: Session, token: str) -> None:
    """Revoke the bearer token used for this request.

    An API key is not a sign-in and is not revoked by signing out: an integration that calls
    this would otherwise lose its key by surprise. The answer is 400, naming the key and the
    call that revokes it.
    """
    if is_api_key(token):
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.key_hash == _digest(token)))
        raise Problem(
            400,
            "api-key-logout",
            "This request is authenticated with an API key, which signing out does not revoke;"
            f" revoke it with DELETE /api/v1/me/api-keys/{key_id}",
            api_key_id=str(key_id),
        )
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
