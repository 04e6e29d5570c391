"""The metadata definitions catalog, and who set each image property with what visibility.

Expand only: new tables, and two columns on ``image_properties`` that old code
ignores (``visibility`` defaults to ``public``, which is what old code shows).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def _stamps() -> list[sa.Column[Any]]:
    return [sa.Column("created_at", Timestamp, nullable=False), sa.Column("updated_at", Timestamp, nullable=False)]


def _in_namespace(table: str) -> list[Any]:
    return [
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("namespace_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["namespace_id"], ["metadef_namespaces.id"],
                                name=f"fk_{table}_namespace_id_metadef_namespaces", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.UniqueConstraint("namespace_id", "name", name=f"uq_{table}_namespace_id_name"),
    ]


def upgrade() -> None:
    op.add_column("image_properties", sa.Column("project_id", sa.String(255)))
    op.add_column("image_properties",
                  sa.Column("visibility", sa.String(20), nullable=False, server_default="public"))

    op.create_table(
        "metadef_namespaces",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("namespace", sa.String(80), nullable=False),
        sa.Column("display_name", sa.String(80)),
        sa.Column("description", sa.Text),
        sa.Column("visibility", sa.String(32), nullable=False),
        sa.Column("protected", sa.Boolean, nullable=False),
        sa.Column("owner", sa.String(255)),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_metadef_namespaces"),
        sa.UniqueConstraint("namespace", name="uq_metadef_namespaces_namespace"),
        **MYSQL,
    )
    op.create_index("ix_metadef_namespaces_owner", "metadef_namespaces", ["owner"])
    op.create_table(
        "metadef_resource_types",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("protected", sa.Boolean, nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_metadef_resource_types"),
        sa.UniqueConstraint("name", name="uq_metadef_resource_types_name"),
        **MYSQL,
    )
    op.create_table(
        "metadef_namespace_resource_types",
        sa.Column("namespace_id", sa.Integer, nullable=False),
        sa.Column("resource_type_id", sa.Integer, nullable=False),
        sa.Column("prefix", sa.String(80)),
        sa.Column("properties_target", sa.String(80)),
        *_stamps(),
        sa.ForeignKeyConstraint(["namespace_id"], ["metadef_namespaces.id"],
                                name="fk_metadef_assoc_namespace_id",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resource_type_id"], ["metadef_resource_types.id"],
                                name="fk_metadef_assoc_resource_type_id"),
        sa.PrimaryKeyConstraint("namespace_id", "resource_type_id", name="pk_metadef_namespace_resource_types"),
        **MYSQL,
    )
    op.create_index("ix_metadef_namespace_resource_types_resource_type_id", "metadef_namespace_resource_types",
                    ["resource_type_id"])
    op.create_table(
        "metadef_properties",
        *_in_namespace("metadef_properties"),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("json_schema", sa.JSON, nullable=False),
        *_stamps(),
        **MYSQL,
    )
    op.create_table(
        "metadef_objects",
        *_in_namespace("metadef_objects"),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("required", sa.JSON, nullable=False),
        sa.Column("json_schema", sa.JSON, nullable=False),
        *_stamps(),
        **MYSQL,
    )
    op.create_table(
        "metadef_tags",
        *_in_namespace("metadef_tags"),
        sa.Column("name", sa.String(80), nullable=False),
        *_stamps(),
        **MYSQL,
    )
    op.create_table(
        "metadef_catalog",
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_metadef_catalog"),
        **MYSQL,
    )
    op.bulk_insert(sa.table("metadef_catalog", sa.column("id", sa.Integer), sa.column("revision", sa.BigInteger)),
                   [{"id": 1, "revision": 0}])


def downgrade() -> None:
    for table in ("metadef_catalog", "metadef_tags", "metadef_objects", "metadef_properties",
                  "metadef_namespace_resource_types", "metadef_resource_types", "metadef_namespaces"):
        op.drop_table(table)
    with op.batch_alter_table("image_properties") as batch:
        batch.drop_column("visibility")
        batch.drop_column("project_id")
