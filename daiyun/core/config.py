"""Settings, read once from ``DAIYUN_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class Settings(BaseSettings):
    """Every knob of a deployment; the README documents each one."""

    model_config = SettingsConfigDict(env_prefix="DAIYUN_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{VAR_DIR}/daiyun.sqlite"
    # Migrations run as the schema owner; the app connects as a role that owns nothing.
    migration_database_url: str | None = None
    broker_url: str = f"sqla+sqlite:///{VAR_DIR}/broker.sqlite"
    result_backend: str | None = None
    secret_key: str = "dev-only-change-me"
    # Comma-separated "version:base64key" pairs; the first is used to encrypt.
    encryption_keys: str = ""
    base_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 1_048_576
    token_ttl_hours: int = 12
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20
    login_window_seconds: int = 900
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is believed
    # (empty: none, the peer address is the client's).
    trusted_proxies: str = ""
    outbox_relay_seconds: float = 5.0
    log_level: str = "INFO"
    log_json: bool = False
    db_pool_size: int = Field(default=10, ge=1)
    # Pull sync: how often each active shop is pulled, how far back a new shop starts, and
    # after how long without a heartbeat a run is presumed dead and picked up again.
    sync_interval_seconds: float = Field(default=300.0, gt=0)
    sync_initial_days: int = Field(default=7, ge=1)
    sync_lease_seconds: float = Field(default=300.0, gt=0)
    # A webhook delivery still unprocessed after this long is queued again.
    webhook_sweep_seconds: float = Field(default=60.0, gt=0)
    # Comma-separated hosts (host or host:port) a shop's API base URL may point at besides each
    # connector's official hosts: the sandboxes in the demo and the tests.
    marketplace_hosts: str = ""
    # A rates service answering as the ECB-based Frankfurter API does (GET {url}/{day}?from=USD
    # &to=CNY); unset: rates come from imports and the API only. Pairs: "USD:CNY,EUR:CNY".
    rates_url: str | None = None
    rates_pairs: str = "USD:CNY"
    # Stripe: unset key means statements are not pushed (they wait, and go once it is set).
    stripe_api_key: str | None = None
    stripe_api_base: str | None = None
    stripe_webhook_secret: str | None = None
    # The carriers' e-waybill service (the carrier sandbox in the demo and the tests): unset,
    # no waybill can be requested. Trusted as configured: it is the deployment's, not a shop's.
    carrier_url: str | None = None
    carrier_api_key: str | None = None
    # E-mail for customer service: the inbound-parse provider's signing key (unset: every
    # delivery is refused), and the SMTP server replies go out through.
    email_signing_key: str | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # The sender of the platform's own mail to staff (an SLA at risk, for one).
    notifications_from: str = "Daiyun <notifications@daiyun.invalid>"
    # The sender (and calendar organizer) of recruiting's interview invitations.
    recruiting_mail_from: str = "recruiting@daiyun.example"
    # Days after a month ends before its draft statement is finalized automatically.
    billing_review_days: int = Field(default=5, ge=0, le=28)
    # Days from a statement's issue date to its due date (contracts name no payment terms yet).
    billing_payment_days: int = Field(default=15, ge=0, le=365)
    # Seconds a public page (the careers pages) is kept rendered for its next visitors, per
    # process (daiyun/portal/page_cache.py); 0 renders every one afresh.
    public_page_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # Live updates (server-sent events, daiyun/core/live.py): how often a stream looks at the
    # database, and how long one stream lasts before the browser reconnects (resuming from the
    # last event it saw), so no connection is held forever.
    live_tick_seconds: float = Field(default=1.0, gt=0, le=30)
    live_stream_seconds: float = Field(default=120.0, gt=0, le=3600)
    # The agency as the letterhead of its statement PDFs names it: a demo agency until set. The
    # _zh names head statements read in Chinese (empty: the others serve both languages).
    agency_name: str = "Daiyun Demo Agency (Shanghai) Co., Ltd."
    agency_name_zh: str = "代运示范电子商务（上海）有限公司"
    agency_address: str = "88 Century Avenue, Pudong New Area, Shanghai 200120, China"
    agency_address_zh: str = "上海市浦东新区世纪大道88号，邮编200120"
    agency_tax_id: str = "91310115MA1K000D0X"

    @property
    def owner_database_url(self) -> str:
        return self.migration_database_url or self.database_url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
