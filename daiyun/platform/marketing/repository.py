"""Every query of marketing. Redemptions lock what they count in one order (campaigns, then
promotions, then coupons, each by id), so two writers never wait on each other in a circle."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Select, delete, exists, func, insert, select
from sqlalchemy.orm import Session

from daiyun.core.db import take_write_lock
from daiyun.platform.marketing.models import (
    AdChannel,
    AdSpend,
    Campaign,
    Coupon,
    MarketingSettings,
    Promotion,
    Redemption,
    RedemptionReversal,
)


def settings(session: Session) -> MarketingSettings | None:
    return session.scalar(select(MarketingSettings))


def campaigns() -> Select[Any]:
    return select(Campaign)


def get_campaign(session: Session, campaign_id: uuid.UUID) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.id == campaign_id))


def campaign_named(session: Session, name: str) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.name == name))


def campaigns_by_id(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Campaign]:
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Campaign).where(Campaign.id.in_(ids)))}


def promotions(campaign_id: uuid.UUID | None = None, active: bool | None = None) -> Select[Any]:
    stmt = select(Promotion)
    if campaign_id is not None:
        stmt = stmt.where(Promotion.campaign_id == campaign_id)
    if active is not None:
        stmt = stmt.where(Promotion.active == active)
    return stmt


def get_promotion(session: Session, promotion_id: uuid.UUID) -> Promotion | None:
    return session.scalar(select(Promotion).where(Promotion.id == promotion_id))


def live_promotions(session: Session, at: datetime) -> list[Promotion]:
    """Active promotions whose window holds ``at``, in id order."""
    stmt = (
        select(Promotion)
        .where(Promotion.active.is_(True), Promotion.starts_at <= at, Promotion.ends_at > at)
        .order_by(Promotion.id)
    )
    return list(session.scalars(stmt))


def flash_to_release(session: Session, at: datetime) -> list[Promotion]:
    """Flash sales still holding stock whose window has ended or which were stopped."""
    from daiyun.platform.marketing.models import CarveStatus

    stmt = select(Promotion).where(
        Promotion.carve_status == CarveStatus.held,
        (Promotion.ends_at <= at) | Promotion.active.is_(False),
    )
    return list(session.scalars(stmt.order_by(Promotion.id)))


def lock(
    session: Session,
    campaign_ids: Collection[uuid.UUID],
    promotion_ids: Collection[uuid.UUID],
    coupon_ids: Collection[uuid.UUID],
) -> None:
    """Lock the counters a redemption changes, in the one order, and reload them."""
    take_write_lock(session)
    if session.connection().dialect.name != "postgresql":
        return
    for model, ids in ((Campaign, campaign_ids), (Promotion, promotion_ids), (Coupon, coupon_ids)):
        if ids:
            stmt = (
                select(model)
                .where(model.id.in_(sorted(ids)))
                .order_by(model.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            list(session.scalars(stmt))


def coupons(promotion_id: uuid.UUID | None = None, batch: str | None = None) -> Select[Any]:
    stmt = select(Coupon)
    if promotion_id is not None:
        stmt = stmt.where(Coupon.promotion_id == promotion_id)
    if batch is not None:
        stmt = stmt.where(Coupon.batch == batch)
    return stmt


def get_coupon(session: Session, coupon_id: uuid.UUID) -> Coupon:
    coupon = session.scalar(select(Coupon).where(Coupon.id == coupon_id))
    assert coupon is not None  # a redemption's coupon is never deleted (foreign key)
    return coupon


def coupons_by_code(session: Session, codes: Collection[str]) -> dict[str, Coupon]:
    if not codes:
        return {}
    stmt = select(Coupon).where(Coupon.code.in_([c.upper() for c in codes]))
    return {c.code: c for c in session.scalars(stmt)}


def codes_taken(session: Session, codes: Collection[str]) -> set[str]:
    return set(session.scalars(select(Coupon.code).where(Coupon.code.in_(list(codes)))))


def redemptions(
    promotion_id: uuid.UUID | None = None, key: str | None = None, order_id: uuid.UUID | None = None
) -> Select[Any]:
    stmt = select(Redemption)
    if promotion_id is not None:
        stmt = stmt.where(Redemption.promotion_id == promotion_id)
    if key is not None:
        stmt = stmt.where(Redemption.key == key)
    if order_id is not None:
        stmt = stmt.where(Redemption.order_id == order_id)
    return stmt


def with_key(session: Session, key: str) -> list[Redemption]:
    return list(
        session.scalars(select(Redemption).where(Redemption.key == key).order_by(Redemption.id))
    )


def _standing() -> Any:
    """A redemption not given back (no reversal names it)."""
    return ~exists().where(
        RedemptionReversal.tenant_id == Redemption.tenant_id,
        RedemptionReversal.redemption_id == Redemption.id,
    )


def standing_of_order(session: Session, order_id: uuid.UUID) -> list[Redemption]:
    """The order's redemptions not yet given back."""
    stmt = select(Redemption).where(Redemption.order_id == order_id, _standing())
    return list(session.scalars(stmt.order_by(Redemption.id)))


def reversed_at(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    if not ids:
        return {}
    stmt = select(RedemptionReversal.redemption_id, RedemptionReversal.at).where(
        RedemptionReversal.redemption_id.in_(list(ids))
    )
    return {row[0]: row[1] for row in session.execute(stmt)}


def buyer_uses(
    session: Session, buyer: str, promotion_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """Per promotion: how many times ``buyer`` redeemed it, and the flash units bought."""
    if not promotion_ids:
        return {}
    stmt = (
        select(Redemption.promotion_id, func.count(), func.coalesce(func.sum(Redemption.units), 0))
        .where(
            Redemption.buyer == buyer,
            Redemption.promotion_id.in_(list(promotion_ids)),
            _standing(),
        )
        .group_by(Redemption.promotion_id)
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in session.execute(stmt)}


def buyer_coupon_uses(
    session: Session, buyer: str, coupon_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not coupon_ids:
        return {}
    stmt = (
        select(Redemption.coupon_id, func.count(func.distinct(Redemption.key)))
        .where(
            Redemption.buyer == buyer,
            Redemption.coupon_id.in_(list(coupon_ids)),
            _standing(),
        )
        .group_by(Redemption.coupon_id)
    )
    return {row[0]: int(row[1]) for row in session.execute(stmt) if row[0] is not None}


# --------------------------------------------------------------------------------------------
# Ad spend and ROAS
# --------------------------------------------------------------------------------------------


def campaign_ids_named(session: Session, names: Collection[str]) -> dict[str, uuid.UUID]:
    if not names:
        return {}
    stmt = select(Campaign.name, Campaign.id).where(Campaign.name.in_(sorted(names)))
    return {row[0]: row[1] for row in session.execute(stmt)}


def campaign_names(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    stmt = select(Campaign.id, Campaign.name).where(Campaign.id.in_(list(ids)))
    return {row[0]: row[1] for row in session.execute(stmt)}


def ad_spend(
    channel: AdChannel | None = None,
    first: date | None = None,
    last: date | None = None,
    campaign_id: uuid.UUID | None = None,
) -> Select[Any]:
    stmt = select(AdSpend)
    if channel is not None:
        stmt = stmt.where(AdSpend.channel == channel)
    if first is not None:
        stmt = stmt.where(AdSpend.day >= first)
    if last is not None:
        stmt = stmt.where(AdSpend.day <= last)
    if campaign_id is not None:
        stmt = stmt.where(AdSpend.campaign_id == campaign_id)
    return stmt


def ad_spend_between(
    session: Session, channels: Collection[AdChannel], first: date, last: date
) -> list[AdSpend]:
    stmt = select(AdSpend).where(
        AdSpend.channel.in_(list(channels)), AdSpend.day >= first, AdSpend.day <= last
    )
    return list(session.scalars(stmt.order_by(AdSpend.id)))


def daily_spend(
    session: Session, first: date, last: date
) -> list[tuple[AdChannel, date, str, int]]:
    """(channel, day, home currency, spend in it) of every day from ``first`` to ``last``."""
    stmt = (
        select(
            AdSpend.channel, AdSpend.day, AdSpend.home_currency, func.sum(AdSpend.home_spend_minor)
        )
        .where(AdSpend.day >= first, AdSpend.day <= last)
        .group_by(AdSpend.channel, AdSpend.day, AdSpend.home_currency)
        .order_by(AdSpend.day, AdSpend.channel, AdSpend.home_currency)
    )
    return [(row[0], row[1], row[2], int(row[3] or 0)) for row in session.execute(stmt)]


def delete_ad_spend(session: Session, channel: AdChannel, first: date, last: date) -> int:
    """The channel's rows of every day from ``first`` to ``last`` (what a file replaces)."""
    stmt = delete(AdSpend).where(
        AdSpend.channel == channel, AdSpend.day >= first, AdSpend.day <= last
    )
    result: Any = session.execute(stmt, execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)


def insert_ad_spend(session: Session, rows: list[dict[str, Any]]) -> None:
    """Many rows in one ``executemany`` (a month of a channel is thousands of ad groups)."""
    if rows:
        session.execute(insert(AdSpend), rows)


def spend_totals(
    session: Session,
    first: date,
    last: date,
    by: str,
    *,
    with_day: bool,
    currencies: Collection[str] | None = None,
) -> list[tuple[Any, ...]]:
    """Per ``by`` (campaign or channel, or day alone), the currency rows were converted into
    and, ``with_day``, the day: spend, impressions, clicks, the platforms' attributed orders
    and GMV. Rows are (day or None, currency, key or None, the five sums)."""
    keys: list[Any] = [AdSpend.day] if with_day else []
    keys.append(AdSpend.home_currency)
    if by == "campaign":
        keys.append(AdSpend.campaign_id)
    elif by == "channel":
        keys.append(AdSpend.channel)
    stmt = (
        select(
            *keys,
            func.sum(AdSpend.home_spend_minor),
            func.sum(AdSpend.impressions),
            func.sum(AdSpend.clicks),
            func.coalesce(func.sum(AdSpend.attributed_orders), 0),
            func.coalesce(func.sum(AdSpend.home_gmv_minor), 0),
        )
        .where(AdSpend.day >= first, AdSpend.day <= last)
        .group_by(*keys)
    )
    if currencies is not None:
        stmt = stmt.where(AdSpend.home_currency.in_(sorted(currencies)))
    found = []
    for row in session.execute(stmt):
        values = list(row)
        day = values.pop(0) if with_day else None
        currency = values.pop(0)
        key = values.pop(0) if by in ("campaign", "channel") else None
        found.append((day, currency, key, *values))
    return found


def _local_day(session: Session, column: Any, zone: str, offset_minutes: int) -> Any:
    """The tenant's day of a UTC instant: PostgreSQL knows time zones; SQLite is given the
    zone's offset, constant over the span asked (the caller splits a span at DST changes)."""
    if session.connection().dialect.name == "postgresql":
        return func.timezone(zone, column).cast(Date)
    return func.date(column, f"{offset_minutes:+d} minutes")


def attributed_totals(
    session: Session,
    start: datetime,
    end: datetime,
    zone: str,
    offset_minutes: int,
    *,
    with_day: bool,
    currencies: Collection[str] | None = None,
) -> list[tuple[Any, ...]]:
    """Orders marketing attributed to each campaign in [start, end), per currency and, with
    ``with_day``, the tenant's day: how many and their GMV, each order once per campaign however
    many of the campaign's promotions it used. Rows are (campaign, currency, day or None,
    orders, GMV)."""
    per_order = (
        select(
            Redemption.campaign_id.label("campaign_id"),
            func.min(Redemption.at).label("at"),
            func.min(Redemption.currency).label("currency"),
            func.min(Redemption.order_total_minor).label("total"),
        )
        .where(Redemption.at >= start, Redemption.at < end, _standing())
        .group_by(Redemption.campaign_id, Redemption.key)
    )
    if currencies is not None:
        per_order = per_order.where(Redemption.currency.in_(sorted(currencies)))
    orders = per_order.subquery()
    keys: list[Any] = [orders.c.campaign_id, orders.c.currency]
    if with_day:
        keys.append(_local_day(session, orders.c.at, zone, offset_minutes).label("day"))
    stmt = select(*keys, func.count(), func.sum(orders.c.total)).group_by(*keys)
    found = []
    for row in session.execute(stmt):
        values = list(row)
        day = values[2] if with_day else None
        if day is not None and not isinstance(day, date):
            day = date.fromisoformat(str(day))
        found.append((values[0], values[1], day, *values[-2:]))
    return found
