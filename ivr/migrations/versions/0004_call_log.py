"""the call log; operators' phones; tickets from live calls

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=34), nullable=False),
        sa.Column("caller", sa.String(length=20), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=120), nullable=True),
        sa.Column("answered_user_id", sa.Integer(), nullable=True),
        sa.Column("voicemail", sa.Boolean(), nullable=False),
        sa.Column("errored", sa.Boolean(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("twilio_status", sa.String(length=16), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("recording_sid", sa.String(length=34), nullable=True),
        sa.Column("recording_url", sa.String(length=300), nullable=True),
        sa.Column("no_complaint_reason", sa.Text(), nullable=True),
        sa.Column("no_complaint_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["answered_user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["no_complaint_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_sid"),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        for column in ("caller", "department", "started_at", "answered_user_id", "ended_at", "outcome"):
            batch_op.create_index(batch_op.f(f"ix_calls_{column}"), [column], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint("uq_users_phone", ["phone"])

    with op.batch_alter_table("tickets", schema=None, naming_convention=_NAMES) as batch_op:
        batch_op.add_column(sa.Column("call_complaint", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("source", sa.String(length=16), server_default="voicemail", nullable=False))
        batch_op.drop_constraint(_call_sid_unique(), type_="unique")
        batch_op.create_unique_constraint("uq_tickets_call_sid_call_complaint", ["call_sid", "call_complaint"])
        batch_op.create_index(batch_op.f("ix_tickets_call_sid"), ["call_sid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None, naming_convention=_NAMES) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_call_sid"))
        batch_op.drop_constraint("uq_tickets_call_sid_call_complaint", type_="unique")
        batch_op.create_unique_constraint(_call_sid_unique(), ["call_sid"])
        batch_op.drop_column("source")
        batch_op.drop_column("call_complaint")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_phone", type_="unique")
        batch_op.drop_column("phone")
    op.drop_table("calls")


# 0001 left the unique constraint on call_sid unnamed: PostgreSQL named it tickets_call_sid_key;
# SQLite's batch mode rebuilds the table and names the reflected one by this convention.
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _call_sid_unique() -> str:
    return "tickets_call_sid_key" if op.get_bind().dialect.name == "postgresql" else "uq_tickets_call_sid"
