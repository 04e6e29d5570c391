"""Initial schema: images, properties, tags, locations, members.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(255)),
        sa.Column("protected", sa.Boolean, nullable=False),
        sa.Column("os_hidden", sa.Boolean, nullable=False),
        sa.Column("disk_format", sa.String(20)),
        sa.Column("container_format", sa.String(20)),
        sa.Column("min_disk", sa.Integer, nullable=False),
        sa.Column("min_ram", sa.Integer, nullable=False),
        sa.Column("size", sa.BigInteger),
        sa.Column("virtual_size", sa.BigInteger),
        sa.Column("checksum", sa.String(32)),
        sa.Column("os_hash_algo", sa.String(64)),
        sa.Column("os_hash_value", sa.String(128)),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("deleted_at", Timestamp),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_images"),
        **MYSQL,
    )
    for columns in (["owner"], ["status"], ["name"], ["checksum"], ["os_hash_value"], ["created_at", "id"],
                    ["updated_at"], ["visibility", "deleted"]):
        op.create_index(f"ix_images_{'_'.join(columns)}", "images", columns)

    op.create_table(
        "image_properties",
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Text),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name="fk_image_properties_image_id_images",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id", "name", name="pk_image_properties"),
        **MYSQL,
    )
    op.create_table(
        "image_tags",
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name="fk_image_tags_image_id_images", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id", "value", name="pk_image_tags"),
        **MYSQL,
    )
    op.create_index("ix_image_tags_value", "image_tags", ["value"])
    op.create_table(
        "image_locations",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("store", sa.String(255), nullable=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name="fk_image_locations_image_id_images",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_image_locations"),
        **MYSQL,
    )
    op.create_index("ix_image_locations_image_id", "image_locations", ["image_id"])
    op.create_index("ix_image_locations_status", "image_locations", ["status"])
    op.create_table(
        "image_members",
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("member", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name="fk_image_members_image_id_images",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id", "member", name="pk_image_members"),
        **MYSQL,
    )
    op.create_index("ix_image_members_member_status", "image_members", ["member", "status"])


def downgrade() -> None:
    for table in ("image_members", "image_locations", "image_tags", "image_properties", "images"):
        op.drop_table(table)
