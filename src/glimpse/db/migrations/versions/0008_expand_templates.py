"""Server templates and their members.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("version_order", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(255)),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("protected", sa.Boolean, nullable=False),
        sa.Column("deprecated", sa.Boolean, nullable=False),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_templates"),
        sa.UniqueConstraint("owner", "name", "version", name="uq_templates_owner_name_version"),
        **MYSQL,
    )
    op.create_index("ix_templates_visibility", "templates", ["visibility"])
    op.create_index("ix_templates_image_id", "templates", ["image_id"])
    op.create_table(
        "template_members",
        sa.Column("template_id", sa.String(36), nullable=False),
        sa.Column("member", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("template_id", "member", name="pk_template_members"),
        sa.ForeignKeyConstraint(["template_id"], ["templates.id"], ondelete="CASCADE",
                                name="fk_template_members_template_id_templates"),
        **MYSQL,
    )
    op.create_index("ix_template_members_member_status", "template_members", ["member", "status"])


def downgrade() -> None:
    op.drop_table("template_members")
    op.drop_table("templates")
