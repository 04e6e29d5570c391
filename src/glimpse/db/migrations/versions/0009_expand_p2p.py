"""The p2p extension's node registry and torrent piece hashes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
PieceHashes = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "p2p_nodes",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("heartbeat_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_p2p_nodes"),
        **MYSQL,
    )
    op.create_index("ix_p2p_nodes_heartbeat_at", "p2p_nodes", ["heartbeat_at"])
    op.create_table(
        "p2p_pieces",
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("piece_size", sa.Integer, nullable=False),
        sa.Column("hashes", PieceHashes),
        sa.Column("holder", sa.String(64)),
        sa.Column("lease_until", Timestamp),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("image_id", name="pk_p2p_pieces"),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("p2p_pieces")
    op.drop_index("ix_p2p_nodes_heartbeat_at", table_name="p2p_nodes")
    op.drop_table("p2p_nodes")
