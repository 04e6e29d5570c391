"""The swarm as a cache filler: an image's pieces from the peers that have them, the rest from the store.

All nodes that miss the same image at once join one torrent (the piece table
is in the database, so they build the same info-hash). Pieces that no
connected peer has are read from the store by this node and handed to
libtorrent (``add_piece``), which checks and announces them: the store is the
last-resort seed. The pieces are dealt out among the registered nodes in
groups, so N nodes missing together read about one copy from the store
between them and trade the rest, and every group of the image's start is read
by some node at once. The fill is sequential where peers allow, and
``progress`` follows the verified, flushed prefix so the cache can stream it to
the client (and digest it) at once: a piece, once libtorrent has it, is never
written again.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from glimpse.domain.images import Image
from glimpse.p2p.node import P2PNode
from glimpse.p2p.session import Leech
from glimpse.p2p.torrent import ImageTorrent

log = logging.getLogger(__name__)

#: seconds between looks at the torrent
POLL = 0.1
#: seconds between flushes of the verified prefix (each one reports progress to the cache)
FLUSH = 0.3
#: seconds between reconnects to registered peers during a fill
RECONNECT = 2.0
#: seconds after which a piece read from the store that never became ours is read again
RETRY = 10.0
#: bytes of consecutive pieces a node reads from the store at once (pieces are dealt out in such groups)
STORE_READ = 2 * 1024 * 1024


class SwarmFiller:
    """``CacheFiller`` of the ``p2p`` extension (see ``glimpse.cache.fillers``)."""

    name = "p2p"

    def __init__(self, node: P2PNode) -> None:
        self._node = node

    def fill(self, image: Image, path: Path, progress: Callable[[int], None], stop: threading.Event) -> bool:
        node = self._node
        try:
            torrent = node.torrent(image)
            if torrent is None:
                log.info("p2p: image %s has no piece table yet; filling from the store", image.id)
                return False
            node.refresh()
            peers = node.peers()
            if not peers:
                log.info("p2p: no registered peers for image %s; filling from the store", image.id)
                return False
            leech = node.swarm.leech(torrent, path)
        except Exception:
            log.warning("p2p: could not join the swarm of image %s", image.id, exc_info=True)
            return False
        try:
            done = _Fill(node, image, torrent, leech, progress, stop).run(peers)
        except Exception:
            log.warning("p2p: swarm fill of image %s failed", image.id, exc_info=True)
            done = False
        finally:
            node.swarm.drop(image.id)
        return done


class _Fill:
    def __init__(self, node: P2PNode, image: Image, torrent: ImageTorrent, leech: Leech,
                 progress: Callable[[int], None], stop: threading.Event) -> None:
        self.node, self.image, self.torrent, self.leech = node, image, torrent, leech
        self.progress, self.stop = progress, stop
        self.settings = node.settings
        self.finished = threading.Event()
        self.from_store = 0

    def run(self, peers: list[tuple[str, int]]) -> bool:
        self.leech.connect(peers)
        seeder = None
        if self.settings.p2p_store_seed:
            seeder = threading.Thread(target=self._seed_from_store, name="glimpse-p2p-store", daemon=True)
            seeder.start()
        try:
            return self._follow()
        finally:
            self.finished.set()
            if seeder is not None:
                seeder.join(timeout=30)

    def _follow(self) -> bool:
        torrent, reported, count = self.torrent, 0, 0
        last_change = last_connect = last_flush = time.monotonic()
        while not self.stop.is_set():
            have = self.leech.have()
            now = time.monotonic()
            done = sum(have)
            if done != count:
                count, last_change = done, now
            elif now - last_change > self.settings.p2p_stall_seconds:
                log.warning("p2p: swarm fill of image %s stalled at %d of %d pieces; falling back to the store",
                            self.image.id, count, torrent.pieces)
                return False
            prefix = next((i for i, got in enumerate(have) if not got), torrent.pieces)
            end = min(prefix * torrent.piece_size, torrent.size)
            if end > reported and (end == torrent.size or now - last_flush >= FLUSH):
                last_flush = now
                if self.node.swarm.flush(self.leech.handle):
                    reported = end
                    self.progress(reported)
            if reported == torrent.size:
                log.info("p2p: image %s filled from the swarm (%d of %d pieces from the store)",
                         self.image.id, self.from_store, torrent.pieces)
                return True
            if now - last_connect > RECONNECT:
                self.node.refresh()
                self.leech.connect(self.node.peers())
                last_connect = now
            self.stop.wait(POLL)
        return False

    def _seed_from_store(self) -> None:
        """Read the pieces no connected peer has from the store: this process's share of the image first.

        The pieces are dealt out in groups, in turn (see :func:`shares`), so N
        nodes missing together read about one copy between them and, since each
        reads its share in order, every part of the image's start exists
        somewhere early: the download that follows the fill streams from the
        start while the fill runs. Consecutive missing pieces of a group come
        in one store read. Then each node helps with the others' shares from
        their ends (whatever no peer has yet): their owners read them from the
        start, so helper and owner meet. A piece that sits half-downloaded after
        its peers left counts as missing.
        """
        torrent = self.torrent
        rank, nodes = self.node.rank()
        group = max(1, STORE_READ // torrent.piece_size)
        own, rest = shares(torrent.pieces, nodes, rank, group)
        injected: dict[int, float] = {}  # piece -> when handed over (read again if it never shows up)
        failures = 0
        if not self.leech.ready():
            return
        while not (self.finished.is_set() or self.stop.is_set()):
            have = self.leech.have()
            available = self.leech.availability()
            now = time.monotonic()

            def missing(i: int) -> bool:
                return not have[i] and not available[i] and now - injected.get(i, -RETRY) >= RETRY

            wanted = next((i for i in own if missing(i)), None)
            if wanted is not None:  # and the missing pieces right after it in its group
                run = [wanted]
                following = range(wanted + 1, min((wanted // group + 1) * group, torrent.pieces))
                run += itertools.takewhile(missing, following)
            elif all(have[i] or i in injected for i in own):
                run = [i for i in (next((i for i in rest if missing(i)), None),) if i is not None]
            else:
                run = []
            if not run:
                if all(have):
                    return
                self.finished.wait(POLL)
                continue
            offset = torrent.piece_range(run[0])[0]
            got = 0
            pieces = self.node.service.read_pieces(self.image, offset, [torrent.piece_range(i)[1] for i in run])
            try:
                for index, data in zip(run, pieces):
                    self.leech.add_piece(index, data)
                    injected[index] = time.monotonic()
                    self.from_store += 1
                    got += 1
                    if self.finished.is_set() or self.stop.is_set():
                        break
            finally:
                pieces.close()
            if got:
                failures = 0
                continue
            failures += 1
            if failures >= 3:
                log.warning("p2p: the store cannot give image %s's pieces; relying on peers", self.image.id)
                return
            self.finished.wait(1.0)


def shares(pieces: int, nodes: int, rank: int, group: int = 1) -> tuple[list[int], list[int]]:
    """The pieces the process at ``rank`` of ``nodes`` reads from the store first, and the order in which it
    helps with the others' (each other share from its end, the next rank's first).

    Pieces are dealt in groups of ``group``: piece ``i`` belongs to rank ``(i // group) mod nodes``.
    """

    def share(owner: int) -> list[int]:
        return [i for i in range(pieces) if (i // group) % nodes == owner]

    own = share(rank)
    rest = [piece for other in range(1, nodes) for piece in reversed(share((rank + other) % nodes))]
    return own, rest
