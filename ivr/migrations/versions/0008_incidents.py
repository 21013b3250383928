"""incidents (outage notices) and the tickets of the callers who joined them

Revision ID: 0008
Revises: 0011
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("area", sa.String(200), nullable=True),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declared_by", sa.String(64), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
    )
    op.create_index("ix_incidents_starts_at", "incidents", ["starts_at"])
    op.create_index("ix_incidents_ends_at", "incidents", ["ends_at"])
    op.create_index("ix_incidents_closed_at", "incidents", ["closed_at"])
    op.create_table(
        "incident_tickets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False, unique=True),
    )
    op.create_index("ix_incident_tickets_incident_id", "incident_tickets", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_tickets_incident_id", table_name="incident_tickets")
    op.drop_table("incident_tickets")
    op.drop_index("ix_incidents_closed_at", table_name="incidents")
    op.drop_index("ix_incidents_ends_at", table_name="incidents")
    op.drop_index("ix_incidents_starts_at", table_name="incidents")
    op.drop_table("incidents")
