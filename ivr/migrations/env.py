"""Alembic environment: runs against the engine handed over by ``ivr.db``, or IVR_DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context

import ivr.models  # noqa: F401  (registers the tables on Base.metadata)
from ivr.db import Base, make_engine, sqlalchemy_url

engine = context.config.attributes.get("engine") or make_engine(sqlalchemy_url(os.environ["IVR_DATABASE_URL"]))

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite alters a table by copying it and dropping the old one, which its foreign keys
        # forbid while rows refer to it. The pragma works only outside a transaction, so it is
        # sent on the driver's own connection before the migration's transaction begins.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    if connection.dialect.name == "postgresql":
        # A migration may rewrite a large table: the webhooks' short timeouts are not for it.
        connection.exec_driver_sql("SET statement_timeout = 0")
        connection.exec_driver_sql("SET lock_timeout = 0")
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows referring to nothing: {broken[:5]}")
    connection.commit()
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
