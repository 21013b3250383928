"""Alembic environment: runs against the engine handed over by ``ivr.db``, or IVR_DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context

import ivr.models  # noqa: F401  (registers the tables on Base.metadata)
from ivr.db import Base, make_engine, sqlalchemy_url

engine = context.config.attributes.get("engine") or make_engine(sqlalchemy_url(os.environ["IVR_DATABASE_URL"]))

with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        # A migration may rewrite a large table: the webhooks' short timeouts are not for it.
        connection.exec_driver_sql("SET statement_timeout = 0")
        connection.exec_driver_sql("SET lock_timeout = 0")
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
