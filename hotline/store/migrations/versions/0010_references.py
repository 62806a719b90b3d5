"""References of detention reports reserved in the shared database (unique across instances:
the database decides), every reference already used counted as taken; and the open callbacks
and notifications indexed (an instance taking over keeps reading them while it is active).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_refs",
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("instance", sa.String(length=128), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_notification_refs")),
    )
    # every reference a report already has is taken: none is handed out again
    op.execute(
        "INSERT INTO notification_refs (ref, instance, reserved_at) "
        "SELECT ref, 'before-0009', stored_at FROM notifications"
    )
    op.create_index(
        "ix_callbacks_open",
        "callbacks",
        ["requested_at"],
        postgresql_where=sa.text("ended_at IS NULL"),
        sqlite_where=sa.text("ended_at IS NULL"),
    )
    op.create_index(
        "ix_notifications_open",
        "notifications",
        ["stored_at"],
        postgresql_where=sa.text("handled_at IS NULL"),
        sqlite_where=sa.text("handled_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_open", table_name="notifications")
    op.drop_index("ix_callbacks_open", table_name="callbacks")
    op.drop_table("notification_refs")
