"""how many times a ticket was extended; when a milestone's alert went out

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extension_count", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE tickets SET extension_count = 1 WHERE extended")
    with op.batch_alter_table("ticket_milestones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_milestones", schema=None) as batch_op:
        batch_op.drop_column("alerted_at")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("extension_count")
