"""What the p2p extension needs from the rest of Glimpse: the node registry, piece hashes, and ranged store reads.

The extension (``glimpse.p2p``) holds the BitTorrent side; this module is its
way to the shared database and to the stores, so it never touches a
repository or a store driver itself. Nothing here knows BitTorrent beyond the
piece table: a piece is ``piece_size`` bytes of the image (the last one
shorter) and its hash is SHA-1, as in a BitTorrent v1 info dictionary.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING

from glimpse.db.swarm import PieceTable, SwarmNode, SwarmRepository
from glimpse.db.images import ImageRepository
from glimpse.domain.images import Image, ImageStatus
from glimpse.errors import StoreUnavailable
from glimpse.services.stores import StoreSet
from glimpse.stores.base import StoreError

if TYPE_CHECKING:
    from glimpse.services import Services

log = logging.getLogger(__name__)

__all__ = ["PieceTable", "SwarmNode", "SwarmService", "hash_pieces", "piece_size_for"]

#: Pieces are powers of two between these, chosen so an image has at most ~2000 of them.
MIN_PIECE = 256 * 1024
MAX_PIECE = 16 * 1024 * 1024
_TARGET_PIECES = 2000


def piece_size_for(size: int, configured: int = 0) -> int:
    """The piece size of a new piece table: ``configured`` if set, else the rule above."""
    if configured:
        return configured
    piece = MIN_PIECE
    while piece < MAX_PIECE and size > piece * _TARGET_PIECES:
        piece *= 2
    return piece


def hash_pieces(chunks: Iterable[bytes | memoryview], piece_size: int) -> tuple[bytes, int]:
    """The concatenated SHA-1s of ``chunks`` cut into ``piece_size`` pieces, and the byte count."""
    hashes = bytearray()
    piece = hashlib.sha1(usedforsecurity=False)
    filled = total = 0
    for chunk in chunks:
        view = memoryview(chunk)
        total += len(view)
        while view:
            take = view[:piece_size - filled]
            piece.update(take)
            filled += len(take)
            view = view[len(take):]
            if filled == piece_size:
                hashes += piece.digest()
                piece, filled = hashlib.sha1(usedforsecurity=False), 0
    if filled:
        hashes += piece.digest()
    return bytes(hashes), total


class SwarmService:
    """The registry, piece tables and store reads of one node, for the p2p extension."""

    def __init__(self, swarm: SwarmRepository, images: ImageRepository, stores: StoreSet, *,
                 node_timeout: float) -> None:
        self._swarm = swarm
        self._images = images
        self._stores = stores
        self._node_timeout = dt.timedelta(seconds=node_timeout)

    # -- registry

    def heartbeat(self, node: SwarmNode) -> None:
        self._swarm.heartbeat(node)

    def leave(self, node_id: str) -> None:
        self._swarm.leave(node_id)

    def nodes(self) -> list[SwarmNode]:
        """Every node whose heartbeat is recent (``p2p_node_timeout``)."""
        return self._swarm.alive(within=self._node_timeout)

    def forget_dead(self) -> int:
        """Remove nodes silent for ten timeouts (their rows only clutter the table)."""
        return self._swarm.forget_dead(older_than=self._node_timeout * 10)

    # -- pieces

    def pieces(self, image_id: str) -> PieceTable | None:
        return self._swarm.pieces(image_id)

    def publish(self, table: PieceTable) -> bool:
        return self._swarm.publish(table)

    def drop_pieces(self, image_id: str) -> None:
        self._swarm.drop(image_id)

    def drop_deleted(self) -> int:
        return self._swarm.drop_deleted()

    def unhashed(self, *, limit: int = 10) -> list[str]:
        return self._swarm.unhashed_active(limit=limit)

    def hash_from_store(self, image_id: str, *, holder: str, piece_size: int = 0, lease: float = 600.0) -> bool:
        """Compute and publish ``image_id``'s piece table by reading it once from a store, under a lease.

        Returns False when another process holds the lease, the image is not
        active or its data cannot be read (it is then left for a later round).
        """
        image = self.image(image_id)
        if image is None or not image.size:
            return False
        piece = piece_size_for(image.size, piece_size)
        if not self._swarm.claim(image_id, size=image.size, piece_size=piece, holder=holder,
                                 lease=dt.timedelta(seconds=lease)):
            return False
        try:
            chunks = self.read(image, 0, image.size)
            try:
                hashes, total = hash_pieces(chunks, piece)
            finally:
                getattr(chunks, "close", lambda: None)()
        except (StoreUnavailable, StoreError) as exc:
            log.info("p2p: cannot hash image %s from the stores here: %s", image_id, exc)
            self._swarm.release(image_id, holder)
            return False
        if total != image.size:
            self._swarm.release(image_id, holder)
            return False
        return self._swarm.publish(PieceTable(image_id, image.size, piece, hashes))

    # -- image data

    def image(self, image_id: str) -> Image | None:
        """The image if it is active (or deactivated) with data, else ``None``."""
        image = self._images.get(image_id)
        if image is None or image.status not in (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED) or not image.locations:
            return None
        return image

    def read(self, image: Image, offset: int, length: int) -> Iterator[bytes]:
        """Bytes ``[offset, offset + length)`` of the image from the first store copy that opens.

        The caller closes the iterator. Raises :class:`StoreUnavailable` when no
        copy can be opened; the iterator may raise :class:`StoreError` later.
        """
        failures = []
        for location in image.locations:
            try:
                return self._stores.get(location.store).open(location.key, offset=offset, length=length)
            except (StoreError, StoreUnavailable) as exc:
                failures.append(f"store '{location.store}': {exc}")
        raise StoreUnavailable(f"The data of image {image.id} cannot be read: {'; '.join(failures)}.")

    def read_pieces(self, image: Image, offset: int, lengths: list[int]) -> Generator[bytes, None, None]:
        """Consecutive pieces of the image from ``offset`` on, one ``bytes`` per piece, from one store read.

        Ends early (fewer pieces than ``lengths``) when the stores cannot give
        the rest; never raises for a store failure. One piece is held at a time.
        """
        try:
            chunks = self.read(image, offset, sum(lengths))
        except StoreUnavailable:
            return
        try:
            pending = bytearray()
            wanted = iter(lengths)
            length = next(wanted, None)
            for chunk in chunks:
                pending += chunk
                while length is not None and len(pending) >= length:
                    yield bytes(pending[:length])
                    del pending[:length]
                    length = next(wanted, None)
        except StoreError:
            return
        finally:
            getattr(chunks, "close", lambda: None)()
