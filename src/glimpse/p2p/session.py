"""The one module that talks to libtorrent (pinned ``libtorrent==2.1.*``): a session per serving process.

What this relies on, each held by ``tests/p2p/test_libtorrent_contract.py``:

* ``settings_pack`` keys: ``listen_interfaces`` (one address, TCP only),
  ``enable_dht``/``enable_lsd``/``enable_upnp``/``enable_natpmp`` off,
  ``enable_outgoing_utp``/``enable_incoming_utp`` off (uTP halved throughput in a
  shaped network), ``allow_multiple_connections_per_ip`` (several processes
  per address), ``upload_rate_limit``/``download_rate_limit``;
* ``add_torrent_params`` fields ``ti``, ``save_path``, ``renamed_files``,
  ``flags`` (``seed_mode``, ``sequential_download``), ``storage_mode``;
* ``outgoing_interfaces`` (absent from ``default_settings()`` but honoured):
  outgoing connections leave from the node's address, so the IP filter of the
  other side (``session.set_ip_filter``; registered addresses only) applies;
* ``torrent_handle.connect_peer``, ``add_piece`` (a piece we read from the
  store, hash-checked and announced like a downloaded one), ``status`` with
  ``pieces``, ``piece_availability``, ``flush_cache`` (and its ``cache_flushed_alert``);
* peers that send data failing a piece hash are banned (libtorrent's default
  and its ``smart_ban`` plugin).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

# Ceph's librados/librbd must be in the process before libtorrent. The libtorrent wheel links Boost and
# OpenSSL statically and exports their symbols; a librados loaded after it binds its Boost to them and
# the process dies with a segmentation fault on the first RBD call (libtorrent 2.1.1 with Debian's
# python3-rados/rbd, seen on this project's test suite). Loaded first, each keeps its own.
# tests/p2p/test_libtorrent_beside_rbd.py holds it.
with contextlib.suppress(ImportError):
    import rados  # noqa: F401
    import rbd  # noqa: F401

import libtorrent as lt  # noqa: E402

from glimpse.p2p.torrent import ImageTorrent

log = logging.getLogger(__name__)

_BLOCKED = 1


class Leech:
    """A torrent being downloaded into a cache file."""

    def __init__(self, handle: lt.torrent_handle, torrent: ImageTorrent) -> None:
        self._handle = handle
        self.torrent = torrent

    def ready(self, timeout: float = 10.0) -> bool:
        """Wait until the torrent has checked its file and takes pieces (``add_piece`` before that is lost)."""
        wanted = (lt.torrent_status.states.downloading, lt.torrent_status.states.finished,
                  lt.torrent_status.states.seeding)
        deadline = time.monotonic() + timeout
        while self._handle.status().state not in wanted:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def connect(self, peers: Iterable[tuple[str, int]]) -> None:
        for address, port in peers:
            self._handle.connect_peer((address, port))

    def have(self) -> list[bool]:
        """Which pieces this node has (downloaded or added, and hash-checked)."""
        return list(self._handle.status(lt.status_flags_t.query_pieces).pieces)

    def availability(self) -> list[int]:
        """For each piece, how many connected peers have it."""
        return list(self._handle.piece_availability())

    def add_piece(self, index: int, data: bytes) -> None:
        """Hand libtorrent a piece read elsewhere: it checks the hash and announces it to peers.

        A piece this node already has is left alone: the cache digests pieces once they are final, so
        they are never written again. One that a peer left half-written is overwritten."""
        if self._handle.have_piece(index):
            return
        self._handle.add_piece(index, data, lt.add_piece_flags_t.overwrite_existing)

    def peers(self) -> int:
        return len(self._handle.get_peer_info())

    def complete(self) -> bool:
        status = self._handle.status()
        return bool(status.is_seeding or status.is_finished)

    @property
    def handle(self) -> lt.torrent_handle:
        return self._handle


class Swarm:
    """A libtorrent session: trackerless, TCP only, listening on one address, admitting registered addresses."""

    def __init__(self, address: str, port: int = 0, *, upload_rate_limit: int = 0,
                 download_rate_limit: int = 0) -> None:
        host = f"[{address}]" if ":" in address else address
        self.address = address
        self._session = lt.session({
            "listen_interfaces": f"{host}:{port}",
            "outgoing_interfaces": address,
            "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
            "enable_outgoing_utp": False, "enable_incoming_utp": False,
            "enable_outgoing_tcp": True, "enable_incoming_tcp": True,
            "allow_multiple_connections_per_ip": True,
            # a peer that left (its fill ended, it now seeds the cache file) is worth calling again soon
            "min_reconnect_time": 1, "peer_connect_timeout": 5,
            "upload_rate_limit": upload_rate_limit, "download_rate_limit": download_rate_limit,
            "alert_mask": int(lt.alert.category_t.error_notification | lt.alert.category_t.storage_notification
                              | lt.alert.category_t.status_notification),
            "user_agent": "glimpse-p2p",
        })
        # peers on the local network are exempt from rate limits by default; here they are the only peers
        local = self._session.get_peer_class(self._session.local_peer_class_id)
        local["upload_limit"], local["download_limit"] = upload_rate_limit, download_rate_limit
        self._session.set_peer_class(self._session.local_peer_class_id, local)
        self._lock = threading.Lock()
        self._torrents: dict[str, lt.torrent_handle] = {}
        self._flushed = threading.Condition()
        self._flush_count: dict[str, int] = {}
        self._closed = threading.Event()
        self.admit(())
        self._alerts = threading.Thread(target=self._watch_alerts, name="glimpse-p2p-alerts", daemon=True)
        self._alerts.start()

    @property
    def port(self) -> int:
        return int(self._session.listen_port())

    def admit(self, addresses: Iterable[str]) -> None:
        """Refuse connections from and to every address but ``addresses`` (the registered nodes)."""
        rules = lt.ip_filter()
        rules.add_rule("0.0.0.0", "255.255.255.255", _BLOCKED)
        rules.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", _BLOCKED)
        for address in set(addresses):
            try:
                ipaddress.ip_address(address)
            except ValueError:
                log.warning("p2p: registered address %r is not an IP address; ignored", address)
                continue
            rules.add_rule(address, address, 0)
        self._session.set_ip_filter(rules)

    def _add(self, torrent: ImageTorrent, path: Path, flags: int) -> lt.torrent_handle:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent.metainfo())
        params.save_path = str(path.parent)
        params.renamed_files = {0: path.name}
        params.storage_mode = lt.storage_mode_t.storage_mode_sparse
        params.flags = (params.flags | flags | lt.torrent_flags.apply_ip_filter) & ~lt.torrent_flags.auto_managed \
            & ~lt.torrent_flags.paused
        with self._lock:
            self._drop_locked(torrent.image_id)
            handle = self._session.add_torrent(params)
            self._torrents[torrent.image_id] = handle
        return handle

    def seed(self, torrent: ImageTorrent, path: Path) -> None:
        """Offer the complete file ``path`` (pieces are checked when first asked for)."""
        self._add(torrent, path, lt.torrent_flags.seed_mode)

    def leech(self, torrent: ImageTorrent, path: Path, *, in_order: bool = True) -> Leech:
        """Download into ``path`` (existing, empty or preallocated): in piece order where peers allow, or
        (``in_order=False``) rarest piece first, libtorrent's default (``bench/fanout.py``'s bare swarm)."""
        return Leech(self._add(torrent, path, lt.torrent_flags.sequential_download if in_order else 0), torrent)

    def drop(self, image_id: str) -> None:
        """Stop seeding or downloading ``image_id`` (its file is left as it is)."""
        with self._lock:
            self._drop_locked(image_id)

    def _drop_locked(self, image_id: str) -> None:
        handle = self._torrents.pop(image_id, None)
        if handle is not None and handle.is_valid():
            self._session.remove_torrent(handle)

    def holding(self) -> set[str]:
        with self._lock:
            return set(self._torrents)

    def flush(self, handle: lt.torrent_handle, *, timeout: float = 10.0) -> bool:
        """Write what libtorrent holds in memory for ``handle`` to its file; True once done."""
        key = str(handle.info_hash())
        with self._flushed:
            before = self._flush_count.get(key, 0)
            handle.flush_cache()
            return self._flushed.wait_for(lambda: self._flush_count.get(key, 0) > before, timeout=timeout)

    def _watch_alerts(self) -> None:
        while not self._closed.is_set():
            if self._session.wait_for_alert(250) is None:
                continue
            for alert in self._session.pop_alerts():
                if isinstance(alert, lt.cache_flushed_alert):
                    with self._flushed:
                        key = str(alert.handle.info_hash())
                        self._flush_count[key] = self._flush_count.get(key, 0) + 1
                        self._flushed.notify_all()
                elif alert.category() & lt.alert.category_t.error_notification:
                    log.info("p2p: %s", alert.message())

    def close(self) -> None:
        with self._lock:
            for image_id in list(self._torrents):
                self._drop_locked(image_id)
        self._closed.set()
        self._alerts.join(timeout=2)
        self._session.pause()
