"""voicemail transcripts: Real-Time Transcriptions and their final segments, keyed on the call

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid", sa.String(length=34), nullable=False),
        sa.Column("call_sid", sa.String(length=34), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("first_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sid"),
    )
    op.create_index(op.f("ix_transcriptions_call_sid"), "transcriptions", ["call_sid"], unique=False)
    op.create_table(
        "transcript_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transcription_sid", sa.String(length=34), nullable=False),
        sa.Column("call_sid", sa.String(length=34), nullable=False),
        sa.Column("sequence_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transcription_sid", "sequence_id"),
    )
    op.create_index(op.f("ix_transcript_segments_call_sid"), "transcript_segments", ["call_sid"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_transcript_segments_call_sid"), table_name="transcript_segments")
    op.drop_table("transcript_segments")
    op.drop_index(op.f("ix_transcriptions_call_sid"), table_name="transcriptions")
    op.drop_table("transcriptions")
