"""The p2p extension's shared state: which processes take BitTorrent connections, and each image's piece hashes.

Every serving process of a streaming node with the ``p2p`` extension keeps a
row in ``p2p_nodes`` alive with heartbeats; peers and the IP filter are built
from the rows whose heartbeat is recent. ``p2p_pieces`` holds the piece size
and concatenated SHA-1 piece hashes of an image, written once: a row without
hashes is a lease (``holder``, ``lease_until``) of the process computing them,
taken with a compare-and-swap so one process reads the image for everyone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from glimpse.clock import utcnow
from glimpse.db.engine import Database
from glimpse.db.tables import images, p2p_nodes, p2p_pieces


@dataclass(frozen=True)
class SwarmNode:
    """One registered BitTorrent endpoint."""

    id: str
    address: str
    port: int


@dataclass(frozen=True)
class PieceTable:
    """An image's torrent pieces: ``hashes`` is ``20 * ceil(size / piece_size)`` bytes."""

    image_id: str
    size: int
    piece_size: int
    hashes: bytes


class SwarmRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- the node registry

    def heartbeat(self, node: SwarmNode) -> None:
        """Register ``node`` or renew its heartbeat."""
        now = utcnow()
        with self._db.write() as conn:
            updated = conn.execute(p2p_nodes.update().where(p2p_nodes.c.id == node.id)
                                   .values(address=node.address, port=node.port, heartbeat_at=now))
            if updated.rowcount == 0:
                conn.execute(p2p_nodes.insert().values(id=node.id, address=node.address, port=node.port,
                                                       started_at=now, heartbeat_at=now))

    def leave(self, node_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(p2p_nodes.delete().where(p2p_nodes.c.id == node_id))

    def alive(self, *, within: dt.timedelta) -> list[SwarmNode]:
        """Nodes whose last heartbeat is at most ``within`` old."""
        statement = (sa.select(p2p_nodes.c.id, p2p_nodes.c.address, p2p_nodes.c.port)
                     .where(p2p_nodes.c.heartbeat_at >= utcnow() - within).order_by(p2p_nodes.c.id))
        with self._db.read() as conn:
            return [SwarmNode(r.id, r.address, r.port) for r in conn.execute(statement)]

    def forget_dead(self, *, older_than: dt.timedelta) -> int:
        with self._db.write() as conn:
            return conn.execute(p2p_nodes.delete().where(p2p_nodes.c.heartbeat_at < utcnow() - older_than)).rowcount

    # -- piece hashes

    def pieces(self, image_id: str) -> PieceTable | None:
        """The image's pieces, or ``None`` while nobody has computed them."""
        statement = sa.select(p2p_pieces).where(p2p_pieces.c.image_id == image_id,
                                                p2p_pieces.c.hashes.is_not(None))
        with self._db.read() as conn:
            row = conn.execute(statement).first()
        if row is None:
            return None
        return PieceTable(row.image_id, row.size, row.piece_size, bytes(row.hashes))

    def claim(self, image_id: str, *, size: int, piece_size: int, holder: str, lease: dt.timedelta) -> bool:
        """Take the lease to compute ``image_id``'s hashes; False if they exist or another holder's lease runs."""
        now = utcnow()
        with self._db.write() as conn:
            taken = conn.execute(p2p_pieces.update().where(
                p2p_pieces.c.image_id == image_id, p2p_pieces.c.hashes.is_(None),
                sa.or_(p2p_pieces.c.lease_until < now, p2p_pieces.c.holder == holder),
            ).values(holder=holder, lease_until=now + lease, size=size, piece_size=piece_size, updated_at=now))
            if taken.rowcount == 1:
                return True
            if conn.execute(sa.select(p2p_pieces.c.image_id).where(p2p_pieces.c.image_id == image_id)).first():
                return False
        try:
            with self._db.write() as conn:
                conn.execute(p2p_pieces.insert().values(image_id=image_id, size=size, piece_size=piece_size,
                                                        holder=holder, lease_until=now + lease, updated_at=now))
            return True
        except IntegrityError:  # another process inserted it first
            return False

    def publish(self, table: PieceTable) -> bool:
        """Store computed hashes unless some are stored already; True if these were stored."""
        now = utcnow()
        values = {"size": table.size, "piece_size": table.piece_size, "hashes": table.hashes,
                  "holder": None, "lease_until": None, "updated_at": now}
        with self._db.write() as conn:
            updated = conn.execute(p2p_pieces.update().where(
                p2p_pieces.c.image_id == table.image_id, p2p_pieces.c.hashes.is_(None)).values(**values))
            if updated.rowcount == 1:
                return True
            if conn.execute(sa.select(p2p_pieces.c.image_id)
                            .where(p2p_pieces.c.image_id == table.image_id)).first():
                return False
        try:
            with self._db.write() as conn:
                conn.execute(p2p_pieces.insert().values(image_id=table.image_id, **values))
            return True
        except IntegrityError:
            return False

    def release(self, image_id: str, holder: str) -> None:
        """Give up ``holder``'s lease without hashes (the image could not be read), so another may try."""
        with self._db.write() as conn:
            conn.execute(p2p_pieces.delete().where(p2p_pieces.c.image_id == image_id, p2p_pieces.c.hashes.is_(None),
                                                   p2p_pieces.c.holder == holder))

    def drop(self, image_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(p2p_pieces.delete().where(p2p_pieces.c.image_id == image_id))

    def drop_deleted(self) -> int:
        """Remove the piece tables of images that were deleted (on whatever node the delete happened)."""
        gone = sa.select(images.c.id).where(images.c.deleted.is_(True))
        with self._db.write() as conn:
            return conn.execute(p2p_pieces.delete().where(p2p_pieces.c.image_id.in_(gone))).rowcount

    def unhashed_active(self, *, limit: int) -> list[str]:
        """Ids of active images with data and no piece hashes yet (nor a running lease), oldest first."""
        now = utcnow()
        busy = sa.select(p2p_pieces.c.image_id).where(sa.or_(p2p_pieces.c.hashes.is_not(None),
                                                             p2p_pieces.c.lease_until >= now))
        statement = (sa.select(images.c.id).where(images.c.status == "active", images.c.deleted.is_(False),
                                                  images.c.size > 0, images.c.id.not_in(busy))
                     .order_by(images.c.created_at).limit(limit))
        with self._db.read() as conn:
            return [row.id for row in conn.execute(statement)]
