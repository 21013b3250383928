"""callback requests and the calls placed to call customers back

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("hotline_number", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
    )
    op.create_index("ix_callbacks_requested_at", "callbacks", ["requested_at"])
    op.create_index("ix_callbacks_due_at", "callbacks", ["due_at"])
    op.create_index("ix_callbacks_done_at", "callbacks", ["done_at"])
    op.create_table(
        "callback_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("operator_phone", sa.String(length=20), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_sid", sa.String(length=34), nullable=True),
        sa.Column("operator_status", sa.String(length=16), nullable=True),
        sa.Column("customer_dialled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer_call_sid", sa.String(length=34), nullable=True),
        sa.Column("customer_status", sa.String(length=16), nullable=True),
        sa.Column("customer_seconds", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["callback_id"], ["callbacks.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_sid"),
    )
    op.create_index("ix_callback_calls_callback_id", "callback_calls", ["callback_id"])


def downgrade() -> None:
    op.drop_index("ix_callback_calls_callback_id", table_name="callback_calls")
    op.drop_table("callback_calls")
    op.drop_index("ix_callbacks_done_at", table_name="callbacks")
    op.drop_index("ix_callbacks_due_at", table_name="callbacks")
    op.drop_index("ix_callbacks_requested_at", table_name="callbacks")
    op.drop_table("callbacks")
