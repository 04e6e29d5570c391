"""Serving processes: a gunicorn arbiter supervising uvicorn event-loop workers.

The arbiter forks ``workers`` processes that share one listening socket and
take turns to accept from it so that each holds as many connections as the
others (:mod:`glimpse.server.balance`), replaces a worker that dies, and on ``SIGTERM``/``SIGINT``
lets every worker finish its requests (up to ``graceful_timeout``) before
exiting. ``SIGHUP`` replaces the workers one by one; ``SIGTTIN``/``SIGTTOU``
add or remove one. The application modules are imported before the fork, so
their memory is shared; the application itself (database engine, stores,
threads) is built inside each worker, after the fork, by the composition root
(:func:`glimpse.composition.serve` hands :func:`serve` the function that builds
a :class:`WorkerNode`).

Each worker runs uvicorn with :class:`~glimpse.server.protocol.HttpProtocol`
(httptools plus zero-copy ``sendfile`` for file-backed downloads and sized
request bodies read straight from the socket) on uvloop, and terminates TLS
itself when a certificate is configured. Full garbage collections wait for a
moment the worker is idle (:mod:`glimpse.server.idle_gc`).

With ``server_fast_paths = false`` a worker runs plain ``uvicorn.Server``
(uvicorn's httptools protocol and its own accept loop) on the shared socket,
in front of plain Starlette: no fast path, no private internal of uvicorn or
Starlette in use.

Internals: gunicorn's ``Worker`` base class and hooks (documented for custom
worker classes), ``Arbiter.WORKER_BOOT_ERROR``, ``Arbiter.WORKERS`` and
``cfg.settings``; checked by ``tests/server/test_contract.py``.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import signal
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker
from starlette.types import ASGIApp

from glimpse.server.balance import LoadBoard, Share
from glimpse.server.idle_gc import IdleCollector
from glimpse.server.protocol import HttpProtocol
from glimpse.server.sibling_writes import SiblingWrites, WriteFollower, WritePublisher
from glimpse.server.worker_server import CacheFollower, ImageCache, WorkerServer
from glimpse.server.body_pace import BodyPace
from glimpse.server.limits import HeadLimits, LimitedHttpToolsProtocol, with_limits
from glimpse.observability import metrics as node_metrics
from glimpse.observability.logging import gunicorn_logger_class
from glimpse.settings import Settings

#: Seconds a stopping worker gets to finish its requests before it is killed.
GRACEFUL_TIMEOUT = 30
#: Seconds an idle keep-alive connection stays open.
KEEP_ALIVE = 30


@dataclass(frozen=True)
class WorkerNode:
    """What a worker serves, built after the fork: the application, and the image cache its siblings warm."""

    app: ASGIApp
    image_cache: ImageCache


class GlimpseWorker(Worker):  # type: ignore[misc]
    """One gunicorn worker process running a uvicorn server on the shared sockets."""

    _server: uvicorn.Server

    def init_signals(self) -> None:
        # uvicorn installs its own handlers (graceful stop on SIGTERM/SIGINT) in serve();
        # gunicorn's would swallow them.
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_DFL)

    def run(self) -> None:
        # A C library that aborts the worker (librados, libtorrent) leaves every thread's Python stack in the log.
        faulthandler.enable(all_threads=True)
        _freeze_heap(None)  # the application just built lives as long as the worker: keep it out of GC scans
        settings: Settings = self.app.settings
        fast = settings.server_fast_paths
        config = uvicorn.Config(
            app=self.wsgi,
            # Plain: uvicorn's own httptools protocol with the head limits and body pace only.
            http=with_limits(HttpProtocol if fast else LimitedHttpToolsProtocol, HeadLimits.from_settings(settings),
                             BodyPace.from_settings(settings)),
            loop="uvloop",
            lifespan="on",
            log_config=None,
            access_log=False,  # glimpse.observability.access logs every request, with more in each line
            timeout_keep_alive=KEEP_ALIVE,
            timeout_notify=max(1, self.timeout // 2),
            callback_notify=self._notify,
            timeout_graceful_shutdown=GRACEFUL_TIMEOUT,
            server_header=False,
            **_tls_options(settings),
        )
        server = self._server = self._fast_server(config) if fast else uvicorn.Server(config)
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(server.serve(sockets=self.sockets))
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    def _fast_server(self, config: uvicorn.Config) -> WorkerServer:
        """uvicorn with balanced accepting, idle-time full collections and a cache kept warm by the siblings."""
        slot: int | None = getattr(self, "board_slot", None)
        follower = None
        if slot is not None:  # keep this worker's image cache warm with what its siblings write
            cache = self.app.node.image_cache
            cache.watch_writes(WritePublisher(self.app.sibling_writes, slot))
            follower = CacheFollower(WriteFollower(self.app.sibling_writes, slot), cache)
        share = Share(self.app.board, slot, patience=self.app.settings.balance_patience)
        return WorkerServer(config, share, IdleCollector(), follower)

    async def _notify(self) -> None:
        if self.ppid != os.getppid():  # the arbiter died: do not serve on as an orphan
            self.log.warning("arbiter %s is gone; worker %s stops", self.ppid, self.pid)
            self._server.should_exit = True
            return
        self.notify()


def _tls_options(settings: Settings) -> dict[str, Any]:
    if settings.tls_cert_file is None:
        return {}
    options: dict[str, Any] = {
        "ssl_certfile": str(settings.tls_cert_file),
        "ssl_keyfile": str(settings.tls_key_file) if settings.tls_key_file else None,
    }
    if settings.tls_client_ca_file is not None:
        options["ssl_ca_certs"] = str(settings.tls_client_ca_file)
        options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
    return options


class _Arbiter(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from :class:`Settings` instead of its command line."""

    def __init__(self, settings: Settings, build: Callable[[], WorkerNode]) -> None:
        self.settings = settings
        self.board = LoadBoard()
        self.sibling_writes = SiblingWrites(self.board.slots)
        self._build = build
        self.node: WorkerNode
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        host = f"[{s.host}]" if ":" in s.host else s.host
        options: dict[str, Any] = {
            "bind": [f"{host}:{s.port}"],
            "workers": s.workers,
            "worker_class": GlimpseWorker,
            "graceful_timeout": GRACEFUL_TIMEOUT,
            "keepalive": KEEP_ALIVE,
            "loglevel": "debug" if s.log_level == "trace" else s.log_level,
            "accesslog": None,
            "logger_class": gunicorn_logger_class(),
            "proc_name": "glimpse-api",
            "when_ready": _freeze_heap,
            # One socket shared by the workers, which balance its connections among themselves:
            # SO_REUSEPORT would spread them by a hash of their addresses, unevenly.
            "reuse_port": False,
        }
        if s.server_fast_paths:  # places on the board of connections and the rings of written images
            options["pre_fork"] = self._claim_slot
            options["child_exit"] = self._release_slot
        if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 24: no shared control socket
            options["control_socket_disable"] = True
        for name, value in options.items():
            self.cfg.set(name, value)

    def load(self) -> ASGIApp:
        self.node = self._build()
        return self.node.app

    def _claim_slot(self, arbiter: Arbiter, worker: Worker) -> None:
        # In the arbiter, before the fork: the new worker's place on the board.
        taken = {getattr(w, "board_slot", None) for w in arbiter.WORKERS.values()}
        worker.board_slot = self.board.claim({slot for slot in taken if slot is not None})
        if worker.board_slot is not None:
            self.sibling_writes.reset(worker.board_slot)

    def _release_slot(self, _arbiter: Arbiter, worker: Worker) -> None:
        node_metrics.worker_exited(worker.pid)
        if getattr(worker, "board_slot", None) is not None:
            self.board.release(worker.board_slot)


def _freeze_heap(_arbiter: Arbiter | None) -> None:
    # Objects that exist before the fork stay untouched by the workers' garbage
    # collector, so their pages stay shared instead of being copied into each worker.
    gc.collect()
    gc.freeze()


def serve(settings: Settings, build: Callable[[], WorkerNode]) -> None:
    """Serve ``settings.workers`` worker processes until stopped by a signal; each calls ``build`` once."""
    _Arbiter(settings, build).run()
