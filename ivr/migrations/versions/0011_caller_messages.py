"""messages callers add by phone to a complaint they already have

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "caller_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("call_sid", sa.String(34), nullable=False),
        sa.Column("caller", sa.String(20), nullable=True),
        sa.Column("recording_sid", sa.String(34), nullable=True),
        sa.Column("recording_url", sa.String(300), nullable=True),
        sa.Column("recording_duration", sa.Integer(), nullable=True),
        sa.Column("recording_status", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_sid"),
    )
    op.create_index("ix_caller_messages_ticket_id", "caller_messages", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_caller_messages_ticket_id", table_name="caller_messages")
    op.drop_table("caller_messages")
