"""An image's torrent, derived from the image alone: every node builds the same bytes and the same info-hash.

The info dictionary is BitTorrent v1, single file: ``name`` = the image id,
``length`` = its size, ``piece length`` and ``pieces`` from the piece table
kept in the database (:mod:`glimpse.services.swarm`). No tracker and no
announce list: peers come from the node registry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from glimpse.services.swarm import PieceTable


def bencode(value: int | bytes | str | list[object] | dict[bytes, object]) -> bytes:
    """The bencoding of ``value`` (dict keys sorted as raw bytes, as the format requires)."""
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"  # type: ignore[arg-type]
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(key) + bencode(value[key])  # type: ignore[arg-type]
                               for key in sorted(value)) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


@dataclass(frozen=True)
class ImageTorrent:
    """The torrent of one image."""

    image_id: str
    size: int
    piece_size: int
    hashes: bytes

    @classmethod
    def of(cls, table: PieceTable) -> ImageTorrent:
        expected = -(-table.size // table.piece_size) * 20
        if len(table.hashes) != expected:
            raise ValueError(f"image {table.image_id}: {len(table.hashes)} bytes of piece hashes, "
                             f"{expected} expected")
        return cls(table.image_id, table.size, table.piece_size, table.hashes)

    @property
    def pieces(self) -> int:
        return len(self.hashes) // 20

    def piece_range(self, index: int) -> tuple[int, int]:
        """``(offset, length)`` of piece ``index`` in the image."""
        offset = index * self.piece_size
        return offset, min(self.piece_size, self.size - offset)

    def info(self) -> bytes:
        """The bencoded info dictionary."""
        return bencode({b"length": self.size, b"name": self.image_id.encode(),
                        b"piece length": self.piece_size, b"pieces": self.hashes})

    def metainfo(self) -> bytes:
        """A bencoded .torrent: the info dictionary and nothing else."""
        return b"d4:info" + self.info() + b"e"

    @property
    def info_hash(self) -> str:
        """The v1 info-hash, hex (what peers identify the torrent by)."""
        return hashlib.sha1(self.info(), usedforsecurity=False).hexdigest()
