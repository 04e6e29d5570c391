"""The libtorrent behaviours ``glimpse.p2p.session`` relies on, on the pinned version (``libtorrent==2.1.*``).

Each session listens on its own loopback address (127.0.0.x), so the IP filter
tells nodes apart as it would on a real network.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Through the session module, which loads libtorrent the way the service does (after Ceph's libraries).
lt = pytest.importorskip("glimpse.p2p.session", reason="libtorrent is not installed (pip install 'glimpse[p2p]')").lt

from glimpse.p2p.session import Leech, Swarm  # noqa: E402
from glimpse.p2p.torrent import ImageTorrent  # noqa: E402
from glimpse.services.swarm import PieceTable, hash_pieces  # noqa: E402

PIECE = 64 * 1024
IMAGE_ID = "6f0c5a53-6b2e-4bd4-a7e9-6b0f4f3c1d2e"


def until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def data() -> bytes:
    return os.urandom(40 * PIECE + 1234)


@pytest.fixture
def torrent(data: bytes) -> ImageTorrent:
    hashes, total = hash_pieces([data[:1000], data[1000:]], PIECE)
    return ImageTorrent.of(PieceTable(IMAGE_ID, total, PIECE, hashes))


@pytest.fixture
def swarms() -> Iterator[Callable[[str], Swarm]]:
    made: list[Swarm] = []

    def make(address: str) -> Swarm:
        swarm = Swarm(address)
        made.append(swarm)
        return swarm

    yield make
    for swarm in made:
        swarm.close()


def seed_file(tmp_path: Path, name: str, data: bytes) -> Path:
    (tmp_path / name).mkdir()
    path = tmp_path / name / "image"
    path.write_bytes(data)
    return path


def empty_file(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    path = tmp_path / name / "filling"
    path.touch()
    return path


def test_the_info_dict_is_deterministic_and_what_libtorrent_hashes(torrent: ImageTorrent, data: bytes) -> None:
    info = lt.torrent_info(torrent.metainfo())
    assert str(info.info_hash()) == torrent.info_hash
    assert info.name() == IMAGE_ID
    assert info.total_size() == len(data)
    assert info.piece_length() == PIECE
    assert info.num_pieces() == torrent.pieces == 41
    again = ImageTorrent.of(PieceTable(IMAGE_ID, len(data), PIECE, hash_pieces([data], PIECE)[0]))
    assert again.info_hash == torrent.info_hash


def test_the_session_settings_we_rely_on_are_taken(swarms: Callable[[str], Swarm]) -> None:
    swarm = swarms("127.0.0.2")
    settings = swarm._session.get_settings()
    for key in ("enable_dht", "enable_lsd", "enable_upnp", "enable_natpmp", "enable_outgoing_utp",
                "enable_incoming_utp"):
        assert settings[key] is False, key
    assert settings["allow_multiple_connections_per_ip"] is True
    assert settings["outgoing_interfaces"] == "127.0.0.2"
    assert settings["listen_interfaces"].startswith("127.0.0.2:")
    assert swarm.port > 0


def test_rate_limits_hold_for_peers_on_the_local_network_too(swarms: Callable[[str], Swarm]) -> None:
    limited = Swarm("127.0.0.6", upload_rate_limit=1_000_000, download_rate_limit=2_000_000)
    try:
        settings = limited._session.get_settings()
        assert (settings["upload_rate_limit"], settings["download_rate_limit"]) == (1_000_000, 2_000_000)
        local = limited._session.get_peer_class(limited._session.local_peer_class_id)
        assert (local["upload_limit"], local["download_limit"]) == (1_000_000, 2_000_000)
    finally:
        limited.close()


@pytest.mark.parametrize("in_order", [True, False], ids=["in-order", "rarest-first"])
def test_a_registered_peer_downloads_from_a_seed_mode_file_under_another_name(
        tmp_path: Path, data: bytes, torrent: ImageTorrent, swarms: Callable[[str], Swarm], in_order: bool) -> None:
    seed, leech_node = swarms("127.0.0.2"), swarms("127.0.0.3")
    seed.admit(["127.0.0.2", "127.0.0.3"])
    leech_node.admit(["127.0.0.2", "127.0.0.3"])
    seed.seed(torrent, seed_file(tmp_path, "a", data))
    target = empty_file(tmp_path, "b")
    inode = target.stat().st_ino
    leech = leech_node.leech(torrent, target, in_order=in_order)
    sequential = bool(leech.handle.flags() & lt.torrent_flags.sequential_download)
    assert sequential is in_order
    leech.connect([("127.0.0.2", seed.port)])
    assert until(lambda: all(leech.have()))
    assert leech_node.flush(leech.handle)
    assert target.stat().st_ino == inode  # written in place: the cache and its followers hold this file open
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert sorted(os.listdir(target.parent)) == ["filling"]  # renamed_files: no file under the image id


def test_an_address_outside_the_registry_gets_no_piece(
        tmp_path: Path, data: bytes, torrent: ImageTorrent, swarms: Callable[[str], Swarm]) -> None:
    seed, intruder_node = swarms("127.0.0.2"), swarms("127.0.0.4")
    seed.admit(["127.0.0.2", "127.0.0.3"])  # 127.0.0.4 is not registered
    intruder_node.admit(["127.0.0.2", "127.0.0.4"])  # the intruder would take anything
    seed.seed(torrent, seed_file(tmp_path, "a", data))
    intruder = intruder_node.leech(torrent, empty_file(tmp_path, "x"))
    intruder.connect([("127.0.0.2", seed.port)])
    assert not until(lambda: any(intruder.have()), timeout=4.0)
    assert intruder.peers() == 0
    # and the seed does not connect out to it either
    (tmp_path / "y").mkdir()
    seed_side = seed._torrents[IMAGE_ID]
    seed_side.connect_peer(("127.0.0.4", intruder_node.port))
    time.sleep(1.0)
    assert all(peer.ip[0] != "127.0.0.4" for peer in seed_side.get_peer_info())


def test_add_piece_takes_a_good_piece_and_drops_a_bad_one(
        tmp_path: Path, data: bytes, torrent: ImageTorrent, swarms: Callable[[str], Swarm]) -> None:
    node = swarms("127.0.0.3")
    leech = node.leech(torrent, empty_file(tmp_path, "b"))
    assert leech.ready()
    offset, length = torrent.piece_range(7)
    leech.add_piece(7, data[offset:offset + length])
    last_offset, last_length = torrent.piece_range(40)
    assert last_length == 1234
    leech.add_piece(40, data[last_offset:last_offset + last_length])
    leech.add_piece(8, b"\0" * PIECE)
    assert until(lambda: leech.have()[7] and leech.have()[40])
    time.sleep(0.5)
    assert not leech.have()[8]
    assert sum(leech.have()) == 2
    assert leech.availability() == [0] * torrent.pieces


def test_a_peer_sending_bad_data_is_banned(
        tmp_path: Path, data: bytes, torrent: ImageTorrent, swarms: Callable[[str], Swarm]) -> None:
    liar, leech_node = swarms("127.0.0.5"), swarms("127.0.0.3")
    for swarm in (liar, leech_node):
        swarm.admit(["127.0.0.3", "127.0.0.5"])
    # The liar checks a good file when it adds it, then its file is damaged under it (in place):
    # it now serves pieces it believes good. (A seed_mode file is checked on first request instead.)
    path = seed_file(tmp_path, "bad", data)
    liar_side = liar.leech(torrent, path)
    assert until(lambda: all(liar_side.have()))
    with path.open("r+b") as file:
        for offset in range(0, len(data), 4096):
            file.seek(offset)
            file.write(b"\xff")
    leech = leech_node.leech(torrent, empty_file(tmp_path, "b"))
    leech.connect([("127.0.0.5", liar.port)])
    assert until(lambda: leech.handle.status().total_failed_bytes > 0)
    assert until(lambda: leech.peers() == 0)
    assert not any(leech.have())
    leech.connect([("127.0.0.5", liar.port)])  # banned: not connected again
    time.sleep(1.5)
    assert leech.peers() == 0
    assert not any(leech.have())


def test_a_seed_mode_file_is_checked_before_it_is_served(
        tmp_path: Path, data: bytes, torrent: ImageTorrent, swarms: Callable[[str], Swarm]) -> None:
    seed, leech_node = swarms("127.0.0.2"), swarms("127.0.0.3")
    for swarm in (seed, leech_node):
        swarm.admit(["127.0.0.2", "127.0.0.3"])
    seed.seed(torrent, seed_file(tmp_path, "a", bytes(len(data))))  # not the image's bytes
    leech = leech_node.leech(torrent, empty_file(tmp_path, "b"))
    leech.connect([("127.0.0.2", seed.port)])
    assert not until(lambda: any(leech.have()), timeout=4.0)
    assert leech.handle.status().total_failed_bytes == 0


def test_sequential_download_fills_from_the_start(
        tmp_path: Path, data: bytes, torrent: ImageTorrent, swarms: Callable[[str], Swarm]) -> None:
    node = swarms("127.0.0.3")
    leech: Leech = node.leech(torrent, empty_file(tmp_path, "b"))
    assert leech.handle.flags() & lt.torrent_flags.sequential_download
    assert not leech.handle.flags() & lt.torrent_flags.auto_managed


def test_only_the_session_module_imports_libtorrent() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "glimpse"
    importers = sorted(str(path.relative_to(src)) for path in src.rglob("*.py")
                       if "import libtorrent" in path.read_text())
    assert importers == ["p2p/session.py"]
