"""The outbox: messages to send by SMS, e-mail and webhook, written with the events that cause
them (``hotline/outbound``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = sa.DateTime(timezone=True)
    op.create_table(
        "outbox",
        sa.Column(
            "n",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("organisation", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=1024), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("next_at", when, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", when, nullable=True),
        sa.Column("done_at", when, nullable=True),
        sa.PrimaryKeyConstraint("n", name=op.f("pk_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_id")),
    )
    op.create_index(op.f("ix_outbox_state"), "outbox", ["state"])
    op.create_index(op.f("ix_outbox_next_at"), "outbox", ["next_at"])
    op.create_index("ix_outbox_queue", "outbox", ["channel", "recipient", "key", "n"])


def downgrade() -> None:
    op.drop_table("outbox")
