"""every milestone of a ticket

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("met_by", sa.String(length=20), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("timed", sa.Boolean(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "name"),
    )
    with op.batch_alter_table("ticket_milestones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_milestones_ticket_id"), ["ticket_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_milestones_due_at"), ["due_at"], unique=False)
    # Tickets registered before milestones existed get their one deadline as the final milestone.
    op.execute(
        "INSERT INTO ticket_milestones (ticket_id, name, rule, description, met_by, final, timed, due_on, due_at, met_at) "
        "SELECT id, 'resolve', deadline_rule, deadline_description, 'resolution', true, false, deadline_on, deadline_at, "
        "CASE WHEN status IN ('resolved', 'rejected') THEN closed_at END FROM tickets"
    )


def downgrade() -> None:
    op.drop_table("ticket_milestones")
