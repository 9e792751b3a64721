"""Alembic runs as the schema owner, then grants the app role its data access."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import make_url

from daiyun import departments
from daiyun.core.config import get_settings
from daiyun.core.db import Base, make_engine
from daiyun.tenants.rls import grant_app_role

departments.load_models()  # fills the metadata
config = context.config
settings = get_settings()
owner_url = config.attributes.get("owner_url") or settings.owner_database_url
app_url = config.attributes.get("app_url") or settings.database_url


def run_migrations_online() -> None:
    engine = (
        make_engine(owner_url, poolclass=None)
        if owner_url.startswith("sqlite")
        else make_engine(owner_url)
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            app, owner = make_url(app_url), make_url(owner_url)
            if connection.dialect.name == "postgresql" and app.username != owner.username:
                grant_app_role(connection, app.username or "", app.password)  # type: ignore[arg-type]
    engine.dispose()


run_migrations_online()
