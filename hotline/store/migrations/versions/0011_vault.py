"""The vault shared by the instances (HOTLINE_HA): recordings and messages sealed (encrypted)
in the database, so that whichever instance is active reads them, and a deletion deletes them
for all; the names of those deleted, so that a copy an instance still holds is not shared
again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_files",
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("header", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_vault_files")),
    )
    op.create_index(op.f("ix_vault_files_key_id"), "vault_files", ["key_id"], unique=False)
    op.create_table(
        "vault_chunks",
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("name", "n", name=op.f("pk_vault_chunks")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # sealed bytes do not compress: PostgreSQL is spared trying
        op.execute("ALTER TABLE vault_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_table(
        "vault_deleted",
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_vault_deleted")),
    )


def downgrade() -> None:
    op.drop_table("vault_deleted")
    op.drop_table("vault_chunks")
    op.drop_index(op.f("ix_vault_files_key_id"), table_name="vault_files")
    op.drop_table("vault_files")
