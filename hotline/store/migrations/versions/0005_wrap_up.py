"""A call's wrap-up: its topics, how it ended for the caller, the operator's note.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("topics", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("resolution", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("wrapped_up_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("wrapped_up_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_calls_resolution"), ["resolution"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_resolution"))
        for column in ("wrapped_up_at", "wrapped_up_by", "note", "resolution", "topics"):
            batch_op.drop_column(column)
