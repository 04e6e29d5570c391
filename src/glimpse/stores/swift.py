"""A store in OpenStack Swift (or Ceph radosgw's Swift API), over plain HTTP with httpx
(object reads from an ``http://`` storage URL with ``http.client``: see :mod:`glimpse.stores.http_reads`).

Uploads stream with chunked transfer encoding, through a :class:`BodyPipe`
(a few chunks of memory, whatever the image size). An upload whose size is
known and at most ``large_object_size`` is one PUT to the final name: Swift
creates the object only when the body is complete. Otherwise the data goes
into segments of ``large_object_chunk_size`` named ``<key>/<upload>/<n>``, and
commit writes a static large object manifest (or, for a single segment of a
small object, copies it into place server-side). Abort cancels the PUT in
flight and deletes the segments.

Containers are ``container``, or ``container_<first n characters of the key>``
with ``multiple_containers_seed`` n (glance_store's layout). Options follow
glance_store's ``swift_store_*`` names without the prefix; sizes in MiB.
Locations are ``swift+http(s)://<auth address>/<container>/<key>``, never with
credentials.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from glimpse.stores import http_reads, options
from glimpse.stores.base import (
    StoredObject,
    StoreConfigError,
    StoreError,
    StoreFullError,
    StoreObjectNotFound,
    StoreUnavailableError,
)
from glimpse.stores.body_pipe import BodyCancelled, BodyPipe
from glimpse.stores.pieces import PieceWriter
from glimpse.stores.readahead import Readahead
from glimpse.stores.swift_segments import UPLOAD_HEADER, purge_abandoned_segments
from glimpse.stores.swift_auth import TOKEN_REFRESH, SwiftAuth, SwiftSession, keystone_scope

log = logging.getLogger(__name__)
READ_CHUNK = 1024 * 1024


class _Answer(Protocol):
    status_code: int

    def close(self) -> None: ...


_A = TypeVar("_A", bound=_Answer)


class SwiftStore:
    """Objects named by key in one container (or a few, sharded by key prefix)."""

    def __init__(self, *, auth_address: str | None = None, auth_version: object = 3, user: str | None = None,
                 key: str | None = None, container: str = "glance", multiple_containers_seed: object = 0,
                 create_container_on_put: object = False, large_object_size: object = 5120,
                 large_object_chunk_size: object = 200, project_name: str | None = None,
                 user_domain_id: str | None = "default", user_domain_name: str | None = None,
                 project_domain_id: str | None = "default", project_domain_name: str | None = None,
                 region: str | None = None, endpoint_type: str = "publicURL", service_type: str = "object-store",
                 endpoint: str | None = None, connect_timeout: object = 10, read_timeout: object = 60) -> None:
        address = options.required("auth_address", auth_address)
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreConfigError("auth_address", "must be an http:// or https:// URL")
        if parts.username or parts.password:
            raise StoreConfigError("auth_address", "must not carry credentials; use user and key")
        self._location = f"swift+{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        version = str(auth_version).strip().lstrip("v")
        if version not in ("1", "1.0", "3", "3.0"):
            raise StoreConfigError("auth_version", "must be 1 or 3 (Keystone v2 is gone)")
        name = options.required("user", user)
        secret = options.required("key", key)
        self._container = options.required("container", container)
        self._seed = options.integer("multiple_containers_seed", multiple_containers_seed, minimum=0, maximum=32)
        self._create_container = options.flag("create_container_on_put", create_container_on_put)
        self._large_object_size = options.mebibytes("large_object_size", large_object_size, minimum=0)
        self.segment_size = options.mebibytes("large_object_chunk_size", large_object_chunk_size)
        self._read_timeout = options.positive_seconds("read_timeout", read_timeout)
        self._connect_timeout = options.positive_seconds("connect_timeout", connect_timeout)
        self._client = httpx.Client(timeout=httpx.Timeout(self._read_timeout, connect=self._connect_timeout),
                                    follow_redirects=False)
        scope = None
        if version.startswith("3"):
            name, scope = keystone_scope(name, project_name=project_name, user_domain_id=user_domain_id,
                                         user_domain_name=user_domain_name, project_domain_id=project_domain_id,
                                         project_domain_name=project_domain_name, region=region,
                                         endpoint_type=endpoint_type, service_type=service_type)
        self._auth = SwiftAuth(self._client, address, 3 if scope else 1, name, secret, scope, endpoint)
        self._containers_made: set[str] = set()

    def container_for(self, key: str) -> str:
        """The container ``key`` lives in."""
        if self._seed:
            return f"{self._container}_{_checked(key)[:self._seed]}"
        return self._container

    def url_for(self, key: str) -> str:
        return f"{self._location}/{self.container_for(key)}/{_checked(key)}"

    def key_for_url(self, url: str) -> str | None:
        """The key whose :meth:`url_for` is ``url``, or ``None``: the inverse of ``url_for``, sharded containers too."""
        container, _, key = url.removeprefix(f"{self._location}/").partition("/")
        if not url.startswith(f"{self._location}/") or not container or not key or "/" in key:
            return None
        return key if self.url_for(key) == url else None

    def url_shape(self) -> str:
        """What this store's locations look like, for an error message."""
        shard = f"_<first {self._seed} characters of the key>" if self._seed else ""
        return f"{self._location}/{self._container}{shard}/<key>"

    def begin(self, key: str, *, size: int | None = None) -> SwiftUpload:
        container = self.container_for(key)
        if self._create_container and container not in self._containers_made:
            answer = self.request("PUT", container)
            _raise_for(answer, "create the container")
            self._containers_made.add(container)
        whole = size is not None and size <= self._large_object_size
        return SwiftUpload(self, key, container, whole=whole)

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        if length == 0:
            self.stat(key)
            return (b"" for _ in ())  # empty, and closable like every stream
        headers = {}
        if offset or length is not None:
            headers["Range"] = f"bytes={offset}-{'' if length is None else offset + length - 1}"
        answer = self._signed(lambda base, token: self._get(_join(base, path), {**headers, "X-Auth-Token": token}))
        if answer.status_code == 416:
            answer.close()
            return (b"" for _ in ())  # empty, and closable like every stream
        if answer.status_code >= 300:
            answer.close()
            _raise_for(answer, "read the object")
        return Readahead(_ResponseChunks(answer), name="swift-readahead")

    def _get(self, url: str, headers: dict[str, str]) -> httpx.Response | http_reads.HttpBody:
        """A streamed GET: read with the standard library over plain HTTP (see ``http_reads``), httpx over TLS."""
        if not url.startswith("http://"):
            return self._client.send(self._client.build_request("GET", url, headers=headers), stream=True)
        try:
            return http_reads.get(url, headers, connect_timeout=self._connect_timeout,
                                  read_timeout=self._read_timeout, chunk=READ_CHUNK)
        except http_reads.READ_ERRORS as exc:
            raise _unreachable(exc) from None

    def delete(self, key: str) -> None:
        _raise_for_delete(self.request("DELETE", self._path(key)))
        for name in self.list_names(self.container_for(key), prefix=f"{key}/"):
            self.delete_name(self.container_for(key), name)

    def delete_name(self, container: str, name: str) -> None:
        """Delete the object ``name`` in ``container``; one gone already is no error."""
        _raise_for_delete(self.request("DELETE", f"{quote(container)}/{quote(name)}"))

    @staticmethod
    def raise_for(answer: httpx.Response, action: str, *, missing_ok: bool = False) -> None:
        """Our error for an answer that is not a success (a 404 passes with ``missing_ok``)."""
        if not (missing_ok and answer.status_code == 404):
            _raise_for(answer, action)

    def stat(self, key: str) -> int:
        answer = self.request("HEAD", self._path(key))
        _raise_for(answer, "look the object up")
        return int(answer.headers.get("Content-Length", "0"))

    def check(self) -> None:
        _raise_for(self.request("HEAD", ""), "reach the account")

    def list_keys(self) -> Iterator[str]:
        """Every object's key (the listing ``glimpse-manage orphans`` uses): the names of the container(s),
        without the segments of large objects (``<key>/<upload>/<n>``)."""
        containers = [self._container]
        if self._seed:
            containers = self.list_names("", prefix=f"{self._container}_")
        for container in containers:
            yield from (name for name in self.list_names(container) if "/" not in name)

    def list_names(self, container: str, *, prefix: str = "") -> list[str]:
        """Names of the objects in ``container`` starting with ``prefix`` (a missing container has none)."""
        return [str(entry["name"]) for entry in self.list_entries(container, prefix=prefix)]

    def list_entries(self, container: str, *, prefix: str = "") -> list[dict[str, Any]]:
        """Swift's JSON listing entries (``name``, ``last_modified``, ...) of ``container``, or of the account for ``""``."""
        entries: list[dict[str, Any]] = []
        marker = ""
        while True:
            answer = self.request("GET", f"{quote(container)}?format=json&prefix={quote(prefix)}"
                                         f"&marker={quote(marker)}")
            if answer.status_code == 404:
                return entries
            _raise_for(answer, "list the container")
            page = list(answer.json()) if answer.status_code == 200 else []
            if not page:
                return entries
            entries += page
            marker = str(page[-1]["name"])

    def containers(self) -> list[str]:
        """Every container this store may have written to: ``container``, or all its shards."""
        if not self._seed:
            return [self._container]
        return [str(entry["name"]) for entry in self.list_entries("", prefix=f"{self._container}_")]

    def purge_incomplete(self, *, older_than: float) -> list[str]:
        """Delete the segments of uploads that never got a manifest, last written ``older_than`` seconds ago or more.

        Returns the keys they were for. Segments a manifest refers to are kept.
        """
        return purge_abandoned_segments(self, older_than=older_than)

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                content: bytes | None = None, stream: bool = False) -> httpx.Response:
        """``method`` on ``<storage url>/<path>``, signing in again once on a 401; transport errors translated."""

        def send(base: str, token: str) -> httpx.Response:
            return self._client.send(self._client.build_request(
                method, _join(base, path), content=content, headers={**(headers or {}), "X-Auth-Token": token}),
                stream=stream)

        return self._signed(send)

    def _signed(self, send: Callable[[str, str], _A]) -> _A:
        """``send(storage_url, token)``, once more with a new token if the answer is 401; httpx errors translated."""
        session = self._auth.session()
        for attempt in (1, 2):
            try:
                answer = send(session.storage_url, session.token)
            except httpx.HTTPError as exc:
                raise _unreachable(exc) from None
            if answer.status_code != 401 or attempt == 2:
                return answer
            answer.close()
            session = self._auth.session(stale=session)
        raise AssertionError("unreachable")

    def streamed_put(self, path: str, *, headers: dict[str, str] | None = None) -> BodyPipe[httpx.Response]:
        """A PUT of ``path`` whose body is written later (see :class:`BodyPipe`); a fresh token, as it cannot be replayed."""
        session = self._auth.session(max_age=TOKEN_REFRESH)
        url = _join(session.storage_url, path)
        send_headers = {**(headers or {}), "X-Auth-Token": session.token, "Content-Type": "application/octet-stream"}

        def send(body: Iterator[bytes]) -> httpx.Response:
            return self._client.put(url, content=body, headers=send_headers)

        return BodyPipe(send, name="swift-put")

    def _path(self, key: str) -> str:
        return f"{quote(self.container_for(key))}/{quote(_checked(key))}"


class SwiftUpload(PieceWriter):
    """A pending Swift object: one streamed PUT in flight at a time, and the segments already sent.

    A whole object is one piece (of unbounded size); otherwise each segment is one.
    """

    driver = "swift store"

    def __init__(self, store: SwiftStore, key: str, container: str, *, whole: bool) -> None:
        super().__init__(sys.maxsize if whole else store.segment_size)
        self.key = key
        self._store = store
        self._container = container
        self._whole = whole
        self._prefix = f"{key}/{uuid.uuid4().hex}/"
        self._segments: list[dict[str, object]] = []
        self._current: BodyPipe[httpx.Response] | None = None
        self._current_name = ""

    def local_path(self) -> str | None:
        return None

    def add_to_piece(self, data: memoryview) -> None:
        if self._current is None:
            self._start()
        current = self._current
        assert current is not None
        self._guard(lambda: current.write(bytes(data)))

    def end_piece(self) -> None:
        self._end_segment()

    def commit(self) -> StoredObject:
        if self.finished:
            raise StoreError("swift store: commit after commit or abort")
        try:
            if self._whole or (self._current is None and not self._segments):
                if self._current is None:  # nothing written: an empty object
                    self._whole = True
                    self._start()
                self._finish_current("write the object")
            else:
                if self._current is not None:
                    self._end_segment()
                self._publish_segments()
        except BaseException:
            self.abort()
            raise
        self.finished = True
        return StoredObject(key=self.key, url=self._store.url_for(self.key), size=self.size)

    def abort(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self._current is not None:
            self._current.cancel()
            self._current = None
        try:
            for segment in self._segments:
                _raise_for_delete(self._store.request("DELETE", quote(str(segment["path"]).lstrip("/"))))
        except StoreError as exc:
            log.warning("swift store: could not delete the segments of an aborted upload of %s (%s); "
                        "deleting the key later removes them", self.key, exc)

    def _start(self) -> None:
        name = self.key if self._whole else f"{self._prefix}{len(self._segments) + 1:08d}"
        self._current = self._store.streamed_put(f"{quote(self._container)}/{quote(name)}")
        self._current_name = name

    def _end_segment(self) -> None:
        answer = self._finish_current("write a segment")
        self._segments.append({"path": f"/{self._container}/{self._current_name}",
                               "etag": answer.headers.get("Etag", "").strip('"') or None,
                               "size_bytes": self.piece_filled})

    def _finish_current(self, action: str) -> httpx.Response:
        assert self._current is not None
        answer = self._guard(self._current.finish)
        self._current = None
        _raise_for(answer, action)
        return answer

    def _publish_segments(self) -> None:
        path = f"{quote(self._container)}/{quote(self.key)}"
        if len(self._segments) == 1 and self.size <= self._store._large_object_size:
            only = str(self._segments[0]["path"])
            copied = self._store.request("PUT", path, headers={"X-Copy-From": quote(only), "Content-Length": "0"})
            _raise_for(copied, "copy the object into place")
            _raise_for_delete(self._store.request("DELETE", quote(only.lstrip("/"))))
            self._segments = []
            return
        manifest = json.dumps(self._segments).encode()
        answer = self._store.request("PUT", f"{path}?multipart-manifest=put", content=manifest,
                                     headers={"Content-Type": "application/octet-stream",
                                              UPLOAD_HEADER: self._prefix.rstrip("/").rsplit("/", 1)[-1]})
        _raise_for(answer, "write the large object manifest")

    def _guard(self, action: Callable[[], httpx.Response | None]) -> httpx.Response:
        try:
            return action()  # type: ignore[return-value]
        except StoreError:
            raise
        except (httpx.HTTPError, ConnectionError, BodyCancelled) as exc:
            raise _unreachable(exc) from None


class _ResponseChunks:
    """Iterates a streamed GET in chunks, translating transport errors; ``close()`` releases the connection."""

    def __init__(self, answer: httpx.Response | http_reads.HttpBody) -> None:
        self._answer = answer
        self._chunks = iter(answer) if isinstance(answer, http_reads.HttpBody) else answer.iter_bytes(READ_CHUNK)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            self.close()
            raise
        except (httpx.HTTPError, *http_reads.READ_ERRORS) as exc:
            self.close()
            raise _unreachable(exc) from None

    def close(self) -> None:
        self._answer.close()


def _join(storage_url: str, path: str) -> str:
    return f"{storage_url}/{path}" if path else storage_url


def _checked(key: str) -> str:
    if not key or key.startswith("/"):
        raise StoreError(f"invalid object key {key!r}")
    return key


def _unreachable(exc: BaseException) -> StoreUnavailableError:
    return StoreUnavailableError(f"swift store: the object service cannot be reached ({type(exc).__name__})")


def _raise_for_delete(answer: httpx.Response) -> None:
    """A DELETE succeeded, or found nothing to delete."""
    if answer.status_code != 404:
        _raise_for(answer, "delete")


def _raise_for(answer: _Answer, action: str) -> None:
    """Raise our error for an answer that is not a success; messages carry the status, never a URL or token."""
    status = answer.status_code
    if status < 300:
        return
    if status == 404:
        if action in ("read the object", "look the object up"):
            raise StoreObjectNotFound("swift store: no such object")
        raise StoreUnavailableError(f"swift store: could not {action}: the container does not exist "
                                    "(and create_container_on_put is off)")
    if status in (413, 507):
        raise StoreFullError(f"swift store: could not {action}: no room ({status})")
    if status in (401, 403):
        raise StoreUnavailableError(f"swift store: could not {action}: access refused ({status})")
    if status >= 500:
        raise StoreUnavailableError(f"swift store: could not {action}: the object service is failing ({status})")
    raise StoreError(f"swift store: could not {action} ({status})")
