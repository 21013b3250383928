"""index tickets by the caller's number and the SMS number (every mobile caller's arrival looks up
their complaints by these), and by the sequence alone (a caller keys in a complaint's last
digits): without them each lookup read the whole table

Revision ID: 0012
Revises: 0009 (the chain runs 0007, 0010, 0011, 0008, 0009)
Create Date: 2026-11-22 22:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_caller", "tickets", ["caller"], unique=False)
    op.create_index("ix_tickets_sms_to", "tickets", ["sms_to"], unique=False)
    op.create_index("ix_tickets_sequence", "tickets", ["sequence"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tickets_sequence", table_name="tickets")
    op.drop_index("ix_tickets_sms_to", table_name="tickets")
    op.drop_index("ix_tickets_caller", table_name="tickets")
