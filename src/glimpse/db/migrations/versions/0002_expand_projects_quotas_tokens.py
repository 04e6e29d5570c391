"""Projects (quota locks), per-project quota overrides and API tokens.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        **MYSQL,
    )
    op.create_table(
        "project_quotas",
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("limit", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name="pk_project_quotas"),
        **MYSQL,
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(255)),
        sa.Column("user_id", sa.String(255)),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp),
        sa.Column("revoked_at", Timestamp),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        **MYSQL,
    )
    op.create_index("ix_api_tokens_project_id", "api_tokens", ["project_id"])


def downgrade() -> None:
    for table in ("api_tokens", "project_quotas", "projects"):
        op.drop_table(table)
