"""the call log marks the calls that reached the voicemail's beep, so that a caller who hung up
there, leaving nothing, is told apart from one who hung up while the operators' phones rang

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch_op:
        batch_op.add_column(sa.Column("reached_voicemail", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch_op:
        batch_op.drop_column("reached_voicemail")
