"""A callback's planned time and who planned it (``callbacks.not_before``, ``planned_by``):
an instance taking over makes a planned callback at its time, not at once.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callbacks") as table:
        table.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("planned_by", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callbacks") as table:
        table.drop_column("planned_by")
        table.drop_column("not_before")
