"""SMS status callbacks that arrive before the dispatcher has recorded the message's SID are
kept, and applied once it is, rather than dropped (a lost "undelivered" offered no resend)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_early_statuses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_sid", sa.String(34), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sms_early_statuses_message_sid", "sms_early_statuses", ["message_sid"])
    op.create_index("ix_sms_early_statuses_received_at", "sms_early_statuses", ["received_at"])


def downgrade() -> None:
    op.drop_table("sms_early_statuses")
