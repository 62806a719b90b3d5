"""A standby shares what the active instance knew: a detention notification's note and who
took it by phone (so that the instance taking over has them whole), and where the lease's
holder answers (a standby forwards the API there).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 10:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("taken_by", sa.String(length=64), nullable=True))
    with op.batch_alter_table("leadership", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url", sa.String(length=256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leadership", schema=None) as batch_op:
        batch_op.drop_column("url")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("taken_by")
        batch_op.drop_column("note")
