"""Personal data kept only as long as allowed (hotline/lifecycle): when a call's or a report's
personal fields were pseudonymised or erased, and the erasures done on request (without the
personal data: a keyed hash of what was named).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_calls_forgotten_at"), ["forgotten_at"], unique=False)
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "erasures",
        sa.Column("n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("organisation", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("recordings", sa.Integer(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("callbacks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("n", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_at"), "erasures", ["at"], unique=False)
    op.create_index(op.f("ix_erasures_organisation"), "erasures", ["organisation"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_erasures_organisation"), table_name="erasures")
    op.drop_index(op.f("ix_erasures_at"), table_name="erasures")
    op.drop_table("erasures")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("forgotten_at")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index(batch.f("ix_calls_forgotten_at"))
        batch.drop_column("forgotten_at")
