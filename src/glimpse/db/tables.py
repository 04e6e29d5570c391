"""SQLAlchemy table definitions; migrations in ``migrations/`` must agree with them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: Microsecond timestamps everywhere (MySQL/MariaDB default to whole seconds).
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
#: Case- and accent-sensitive text comparison on MySQL/MariaDB, as on the others.
_MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}

images = sa.Table(
    "images",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
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
    #: when the image's data became active (it never changes after): the data's Last-Modified
    sa.Column("activated_at", Timestamp),
    sa.Index(None, "owner"),
    sa.Index(None, "status"),
    sa.Index(None, "name"),
    sa.Index(None, "checksum"),
    sa.Index(None, "os_hash_value"),
    sa.Index(None, "created_at", "id"),
    sa.Index(None, "updated_at"),
    sa.Index(None, "visibility", "deleted"),
    **_MYSQL,
)

image_properties = sa.Table(
    "image_properties",
    metadata,
    sa.Column("image_id", sa.String(36), sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text),
    #: the project that last set the value (None for values older than this column)
    sa.Column("project_id", sa.String(255)),
    #: public (seen by all who see the image) or private (the image owner only)
    sa.Column("visibility", sa.String(20), nullable=False, server_default="public"),
    **_MYSQL,
)

image_tags = sa.Table(
    "image_tags",
    metadata,
    sa.Column("image_id", sa.String(36), sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("value", sa.String(255), primary_key=True),
    sa.Index(None, "value"),
    **_MYSQL,
)

image_locations = sa.Table(
    "image_locations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("image_id", sa.String(36), sa.ForeignKey("images.id", ondelete="CASCADE"), nullable=False),
    sa.Column("store", sa.String(255), nullable=False),
    sa.Column("key", sa.String(1024), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    #: active | pending_delete (data still to be removed from the store) | deleted
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index(None, "image_id"),
    sa.Index(None, "status"),
    **_MYSQL,
)

image_members = sa.Table(
    "image_members",
    metadata,
    sa.Column("image_id", sa.String(36), sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("member", sa.String(255), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index(None, "member", "status"),
    **_MYSQL,
)

#: One row per project that has used a quota-checked operation: locked to serialise quota checks.
projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    **_MYSQL,
)

#: Per-project overrides of the default quota limits.
project_quotas = sa.Table(
    "project_quotas",
    metadata,
    sa.Column("project_id", sa.String(255), primary_key=True),
    sa.Column("resource", sa.String(64), primary_key=True),
    sa.Column("limit", sa.BigInteger, nullable=False),
    **_MYSQL,
)

#: API tokens of the ``tokens`` auth strategy; only a hash of the secret is kept.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("project_id", sa.String(255)),
    sa.Column("user_id", sa.String(255)),
    sa.Column("roles", sa.JSON, nullable=False),
    sa.Column("description", sa.String(255)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp),
    sa.Column("revoked_at", Timestamp),
    sa.Index(None, "project_id"),
    **_MYSQL,
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    #: the message's idempotency key, the same however often it is published
    sa.Column("message_id", sa.String(36), nullable=False, unique=True),
    #: messages with the same key (an image id) are published in id order
    sa.Column("ordering_key", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("priority", sa.String(10), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    #: a relay holds the row from claiming until publishing (or until the claim expires)
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("claimed_until", Timestamp),
    sa.Column("sent_at", Timestamp),
    sa.Index(None, "sent_at", "id"),
    sa.Index(None, "ordering_key", "sent_at"),
    **_MYSQL,
)

#: Asynchronous work on images (image import), shown by ``GET /v2/images/{id}/tasks``.
tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("type", sa.String(30), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("owner", sa.String(255)),
    sa.Column("image_id", sa.String(36)),
    sa.Column("request_id", sa.String(64)),
    sa.Column("user_id", sa.String(255)),
    sa.Column("input", sa.JSON),
    sa.Column("result", sa.JSON),
    sa.Column("message", sa.Text),
    sa.Column("expires_at", Timestamp),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index(None, "image_id"),
    sa.Index(None, "status", "updated_at"),
    **_MYSQL,
)

# -- the metadata definitions catalog (metadefs)

metadef_namespaces = sa.Table(
    "metadef_namespaces",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("namespace", sa.String(80), nullable=False),
    sa.Column("display_name", sa.String(80)),
    sa.Column("description", sa.Text),
    sa.Column("visibility", sa.String(32), nullable=False),
    sa.Column("protected", sa.Boolean, nullable=False),
    sa.Column("owner", sa.String(255)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("namespace"),
    sa.Index(None, "owner"),
    **_MYSQL,
)

metadef_resource_types = sa.Table(
    "metadef_resource_types",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("protected", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("name"),
    **_MYSQL,
)

metadef_namespace_resource_types = sa.Table(
    "metadef_namespace_resource_types",
    metadata,
    sa.Column("namespace_id", sa.Integer, primary_key=True),
    sa.Column("resource_type_id", sa.Integer, primary_key=True),
    sa.Column("prefix", sa.String(80)),
    sa.Column("properties_target", sa.String(80)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    # Named by hand: the conventional names exceed PostgreSQL's and MySQL's 63/64-character limit.
    sa.ForeignKeyConstraint(["namespace_id"], ["metadef_namespaces.id"], name="fk_metadef_assoc_namespace_id",
                            ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["resource_type_id"], ["metadef_resource_types.id"],
                            name="fk_metadef_assoc_resource_type_id"),
    sa.Index(None, "resource_type_id"),
    **_MYSQL,
)

metadef_properties = sa.Table(
    "metadef_properties",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("namespace_id", sa.Integer, sa.ForeignKey("metadef_namespaces.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("json_schema", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("namespace_id", "name"),
    **_MYSQL,
)

metadef_objects = sa.Table(
    "metadef_objects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("namespace_id", sa.Integer, sa.ForeignKey("metadef_namespaces.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("required", sa.JSON, nullable=False),
    sa.Column("json_schema", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("namespace_id", "name"),
    **_MYSQL,
)

metadef_tags = sa.Table(
    "metadef_tags",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("namespace_id", sa.Integer, sa.ForeignKey("metadef_namespaces.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("namespace_id", "name"),
    **_MYSQL,
)

#: One row (id 1) whose revision every catalog change increments, so nodes know when to reload.
metadef_catalog = sa.Table(
    "metadef_catalog",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    **_MYSQL,
)

#: Server templates: one row per published version (``document`` holds parameters, user_data and hints).
templates = sa.Table(
    "templates",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("version", sa.String(100), nullable=False),
    #: sorts like the semantic version
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
    sa.UniqueConstraint("owner", "name", "version"),
    sa.Index(None, "visibility"),
    sa.Index(None, "image_id"),
    **_MYSQL,
)

template_members = sa.Table(
    "template_members",
    metadata,
    sa.Column("template_id", sa.String(36), sa.ForeignKey("templates.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("member", sa.String(255), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index(None, "member", "status"),
    **_MYSQL,
)

#: Piece hashes of up to ~1 TiB images at 1 MiB pieces (20 bytes each) fit; MySQL's BLOB stops at 64 KiB.
PieceHashes = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")

#: The streaming nodes' BitTorrent endpoints (extension ``p2p``): one row per serving process.
p2p_nodes = sa.Table(
    "p2p_nodes",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("address", sa.String(255), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("heartbeat_at", Timestamp, nullable=False),
    sa.Index(None, "heartbeat_at"),
    **_MYSQL,
)

#: Each image's torrent pieces (extension ``p2p``): computed once, then every node builds the same torrent.
p2p_pieces = sa.Table(
    "p2p_pieces",
    metadata,
    sa.Column("image_id", sa.String(36), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("piece_size", sa.Integer, nullable=False),
    #: concatenated SHA-1s of the pieces; NULL while a node holds the lease to compute them
    sa.Column("hashes", PieceHashes),
    sa.Column("holder", sa.String(64)),
    sa.Column("lease_until", Timestamp),
    sa.Column("updated_at", Timestamp, nullable=False),
    **_MYSQL,
)
