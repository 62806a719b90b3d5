"""The audit trail: who reached whose personal data (a recording played or downloaded, a
message played, a note read, a CSV exported, a call listened in on, an erasure), when and
from where; ids only.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column(
            "n",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.Column("scope", sa.String(length=32), nullable=True),
        sa.Column("organisation", sa.String(length=32), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("ref", sa.String(length=16), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("n", name=op.f("pk_audit")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_id")),
    )
    op.create_index(op.f("ix_audit_at"), "audit", ["at"], unique=False)
    op.create_index(op.f("ix_audit_organisation"), "audit", ["organisation"], unique=False)
    op.create_index(op.f("ix_audit_call_id"), "audit", ["call_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_call_id"), table_name="audit")
    op.drop_index(op.f("ix_audit_organisation"), table_name="audit")
    op.drop_index(op.f("ix_audit_at"), table_name="audit")
    op.drop_table("audit")
