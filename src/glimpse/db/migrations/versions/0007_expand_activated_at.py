"""images.activated_at: when an image's data became active (the data's Last-Modified).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-06

Expand only: a nullable column old code ignores. Images that already have
data get their last update time, the best moment known for them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.add_column("images", sa.Column("activated_at", Timestamp))
    op.execute("UPDATE images SET activated_at = updated_at WHERE status IN ('active', 'deactivated')")


def downgrade() -> None:
    op.drop_column("images", "activated_at")
