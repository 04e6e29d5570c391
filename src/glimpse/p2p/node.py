"""This process's place in the swarm: its libtorrent session, its registry row, and what it seeds.

A node of the ``p2p`` extension is one serving process (gunicorn runs several
per streaming node): each has its own session on ``p2p_address`` and a port
of its own (``p2p_port = 0``), registered in ``p2p_nodes`` and renewed by a
heartbeat. The session starts on first use in the process that uses it (never
before a fork).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path

from glimpse.domain.images import Image
from glimpse.p2p.session import Swarm
from glimpse.p2p.torrent import ImageTorrent
from glimpse.services.swarm import PieceTable, SwarmNode, SwarmService, hash_pieces, piece_size_for
from glimpse.settings import Settings

log = logging.getLogger(__name__)

_READ = 1024 * 1024


class P2PNode:
    """One serving process's swarm membership."""

    def __init__(self, service: SwarmService, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self.id = uuid.uuid4().hex
        self._swarm: Swarm | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._peers: list[tuple[str, int]] = []
        self._ids: list[str] = []

    @property
    def swarm(self) -> Swarm:
        """The session, started (and registered) on first use in this process."""
        with self._lock:
            if self._swarm is None or self._pid != os.getpid():
                self.id = uuid.uuid4().hex
                settings = self.settings
                self._swarm = Swarm(settings.p2p_address, settings.p2p_port,
                                    upload_rate_limit=settings.p2p_upload_rate_limit,
                                    download_rate_limit=settings.p2p_download_rate_limit)
                self._pid = os.getpid()
                started = True
            else:
                started = False
            swarm = self._swarm
        if started:
            self.refresh()
        return swarm

    def refresh(self) -> None:
        """Heartbeat, then rebuild the IP filter and peer list from the registry."""
        swarm = self.swarm
        self.service.heartbeat(SwarmNode(self.id, self.settings.p2p_address, swarm.port))
        nodes = self.service.nodes()
        swarm.admit(node.address for node in nodes)
        self._peers = [(node.address, node.port) for node in nodes if node.id != self.id]
        self._ids = [node.id for node in nodes]

    def rank(self) -> tuple[int, int]:
        """This process's place among the registered ones, and their number (to spread store reads)."""
        ids = sorted([*self._ids, self.id]) if self.id not in self._ids else sorted(self._ids)
        return ids.index(self.id), len(ids)

    def peers(self) -> list[tuple[str, int]]:
        """The other registered processes' endpoints, as of the last refresh."""
        self.swarm
        return list(self._peers)

    def torrent(self, image: Image) -> ImageTorrent | None:
        """The image's torrent if its piece table exists and matches the image."""
        table = self.service.pieces(image.id)
        if table is None or table.size != image.size:
            return None
        try:
            return ImageTorrent.of(table)
        except ValueError:
            log.warning("p2p: image %s has a malformed piece table; dropped", image.id)
            self.service.drop_pieces(image.id)
            return None

    def seed(self, image: Image, path: Path) -> None:
        """Offer a valid cache file to peers, publishing its piece table first if nobody has."""
        torrent = self.torrent(image)
        if torrent is None and image.size:
            torrent = self._hash_file(image, path)
        if torrent is not None:
            self.swarm.seed(torrent, path)

    def _hash_file(self, image: Image, path: Path) -> ImageTorrent | None:
        piece = piece_size_for(image.size or 0, self.settings.p2p_piece_size)
        try:
            with path.open("rb") as file:
                hashes, total = hash_pieces(iter(lambda: file.read(_READ), b""), piece)
        except OSError:
            return None  # unlinked meanwhile
        if total != image.size:
            return None
        self.service.publish(PieceTable(image.id, total, piece, hashes))
        return self.torrent(image)  # whatever was published first

    def unseed(self, image_id: str) -> None:
        if self._swarm is not None and self._pid == os.getpid():
            self._swarm.drop(image_id)

    def close(self) -> None:
        with self._lock:
            swarm, self._swarm = self._swarm, None
        if swarm is not None and self._pid == os.getpid():
            try:
                self.service.leave(self.id)
            except Exception:
                log.warning("p2p: could not leave the registry", exc_info=True)
            swarm.close()
