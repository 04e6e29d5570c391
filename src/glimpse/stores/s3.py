"""A store in an S3 bucket (AWS, Ceph radosgw, MinIO, ...), through boto3.

One object per key. Objects that fit in one part go up in a single PUT; larger
ones (and any object above ``large_object_size``) as a multipart upload of
``large_object_chunk_size`` parts, which S3 makes visible only when it is
completed and which is aborted on any failure. Up to ``thread_pools`` parts
are sent at once in the background while the next one fills; memory per
upload is ``thread_pools`` + 1 parts at most, whatever the image size.

Options follow glance_store's ``s3_store_*`` names without the prefix
(``host`` and ``bucket_url_format`` are accepted for ``endpoint`` and
``addressing_style``); sizes are in MiB. Locations are ``s3://host/bucket/key``
(``s3+https://`` for an HTTPS endpoint), never with credentials.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from glimpse.stores import options
from glimpse.stores.base import (
    StoredObject,
    StoreConfigError,
    StoreError,
    StoreFullError,
    StoreObjectNotFound,
    StoreUnavailableError,
)
from glimpse.stores.pieces import ParallelSends, PieceWriter
from glimpse.stores.readahead import Readahead

log = logging.getLogger(__name__)
READ_CHUNK = 1024 * 1024
#: S3 refuses parts smaller than this, except the last.
MIN_PART = 5 * options.MiB
_NOT_FOUND = {"NoSuchKey", "NotFound", "404", "NoSuchUpload"}
_REFUSED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed",
            "InvalidToken", "ExpiredToken", "403"}
_FULL = {"QuotaExceeded", "EntityTooLarge", "InsufficientStorage", "507"}


class S3Store:
    """Objects named by key in one bucket."""

    def __init__(self, *, endpoint: str | None = None, host: str | None = None, access_key: str | None = None,
                 secret_key: str | None = None, bucket: str | None = None, region_name: str = "us-east-1",
                 create_bucket_on_put: object = False, addressing_style: str | None = None,
                 bucket_url_format: str | None = None, large_object_size: object = 100,
                 large_object_chunk_size: object = 10, thread_pools: object = 4, connect_timeout: object = 10,
                 read_timeout: object = 60) -> None:
        url = options.required("endpoint", endpoint or host)
        if "://" not in url:
            url = f"https://{url}"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreConfigError("endpoint", "must be an http:// or https:// URL")
        if parts.username or parts.password:
            raise StoreConfigError("endpoint", "must not carry credentials; use access_key and secret_key")
        self._endpoint = url
        self._host = parts.netloc
        self._scheme = "s3+https" if parts.scheme == "https" else "s3"
        self._bucket = options.required("bucket", bucket)
        style = options.choice("addressing_style", addressing_style or bucket_url_format or "auto",
                               ("auto", "path", "virtual"))
        self._create_bucket = options.flag("create_bucket_on_put", create_bucket_on_put)
        self._large_object_size = options.mebibytes("large_object_size", large_object_size, minimum=0)
        self.part_size = options.mebibytes("large_object_chunk_size", large_object_chunk_size,
                                           minimum=MIN_PART // options.MiB)
        self._client = _client(url, options.required("access_key", access_key),
                               options.required("secret_key", secret_key), str(region_name), style,
                               options.positive_seconds("connect_timeout", connect_timeout),
                               options.positive_seconds("read_timeout", read_timeout))
        self._region = str(region_name)
        #: parts of one upload sent at once (glance_store's ``s3_store_thread_pools``)
        self.parts_in_flight = options.integer("thread_pools", thread_pools, minimum=1, maximum=32)
        self._senders: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._bucket_ready = False

    def url_for(self, key: str) -> str:
        return f"{self._scheme}://{self._host}/{self._bucket}/{_checked(key)}"

    def begin(self, key: str, *, size: int | None = None) -> S3Upload:
        _checked(key)
        if self._create_bucket and not self._bucket_ready:
            self._ensure_bucket()
        return S3Upload(self, key)

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        _checked(key)
        if length == 0:
            self.stat(key)
            return (b"" for _ in ())  # empty, and closable like every stream
        request: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            request["Range"] = f"bytes={offset}-{end}"
        try:
            response = self._client.get_object(**request)
        except Exception as exc:
            if _code(exc) == "InvalidRange":  # offset at or past the end of an existing object
                return (b"" for _ in ())  # empty, and closable like every stream
            raise _translate(exc, reading=True) from None
        return Readahead(_BodyChunks(response["Body"]), name="s3-readahead")

    def delete(self, key: str) -> None:
        """Remove the object, and any multipart upload of ``key`` left unfinished (a crashed writer's)."""
        try:
            self._client.delete_object(Bucket=self._bucket, Key=_checked(key))
            for upload in self._uploads(prefix=key):
                if upload["Key"] == key:
                    self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload["UploadId"])
        except Exception as exc:
            if _code(exc) in ("NoSuchBucket", *_NOT_FOUND):
                return
            raise _translate(exc) from None

    def purge_incomplete(self, *, older_than: float) -> list[str]:
        """Abort multipart uploads started more than ``older_than`` seconds ago; the keys they were for."""
        cutoff = time.time() - older_than
        purged = []
        try:
            for upload in self._uploads(prefix=""):
                if upload["Initiated"].timestamp() < cutoff:
                    self._client.abort_multipart_upload(Bucket=self._bucket, Key=upload["Key"],
                                                        UploadId=upload["UploadId"])
                    purged.append(str(upload["Key"]))
        except Exception as exc:
            if _code(exc) in ("NoSuchBucket", *_NOT_FOUND):
                return purged
            raise _translate(exc) from None
        return purged

    def adopt(self, source: object, source_key: str, key: str) -> StoredObject | None:
        """Copy ``source_key`` of another s3 store on the same endpoint to ``key`` here server-side (the bytes
        never pass through us; multipart copy for large objects); ``None`` when ``source`` is elsewhere."""
        if not isinstance(source, S3Store) or source._endpoint != self._endpoint:
            return None
        if self._create_bucket:
            self._ensure_bucket()
        try:
            self._client.copy({"Bucket": source._bucket, "Key": _checked(source_key)}, self._bucket, _checked(key))
        except Exception as exc:
            if _code(exc) in ("AccessDenied", "403"):  # this store's credentials cannot read there: copy the bytes
                return None
            raise _translate(exc, reading=True) from None
        return StoredObject(key=key, url=self.url_for(key), size=self.stat(key))

    def list_keys(self) -> Iterator[str]:
        """Every object's key in the bucket (the listing ``glimpse-manage orphans`` uses); a missing bucket has none."""
        request: dict[str, Any] = {"Bucket": self._bucket}
        while True:
            try:
                page = self._client.list_objects_v2(**request)
            except Exception as exc:
                if _code(exc) == "NoSuchBucket":
                    return
                raise _translate(exc) from None
            yield from (str(entry["Key"]) for entry in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]

    def _uploads(self, *, prefix: str) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        while True:
            page = self._client.list_multipart_uploads(**request)
            yield from page.get("Uploads", [])
            if not page.get("IsTruncated"):
                return
            request.update(KeyMarker=page.get("NextKeyMarker", ""), UploadIdMarker=page.get("NextUploadIdMarker", ""))

    def stat(self, key: str) -> int:
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=_checked(key))
        except Exception as exc:
            raise _translate(exc, reading=True) from None
        return int(head["ContentLength"])

    def check(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except Exception as exc:
            if _code(exc) in ("NoSuchBucket", "404", "NotFound") and self._create_bucket:
                return
            if _code(exc) in ("NoSuchBucket", "404", "NotFound"):
                raise StoreUnavailableError(f"S3 store: bucket {self._bucket!r} does not exist "
                                            "(and create_bucket_on_put is off)") from None
            raise _translate(exc) from None

    def _ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except Exception as exc:
            if _code(exc) not in ("NoSuchBucket", "404", "NotFound"):
                raise _translate(exc) from None
            request: dict[str, Any] = {"Bucket": self._bucket}
            if self._region != "us-east-1":
                request["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
            try:
                self._client.create_bucket(**request)
            except Exception as create_exc:
                if _code(create_exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise _translate(create_exc) from None
        self._bucket_ready = True

    def senders(self) -> ThreadPoolExecutor:
        """The threads that send parts of uploads (made on first use, after the server forked)."""
        with self._lock:
            if self._senders is None:
                self._senders = ThreadPoolExecutor(max_workers=32, thread_name_prefix="s3-parts")
            return self._senders

    def _call(self, method: str, **request: Any) -> Any:
        try:
            return getattr(self._client, method)(Bucket=self._bucket, **request)
        except Exception as exc:
            raise _translate(exc) from None


class S3Upload(PieceWriter):
    """A pending S3 object: one part filling in memory while the previous one is sent in the background.

    The first full part starts a multipart upload; until then the object may
    still become a single PUT at commit.
    """

    driver = "S3 store"

    def __init__(self, store: S3Store, key: str) -> None:
        super().__init__(store.part_size)
        self.key = key
        self._store = store
        self._buffer = bytearray()
        self._sender: ParallelSends | None = None
        self._upload_id: str | None = None
        self._etags: dict[int, str] = {}
        self._parts_sent = 0

    def local_path(self) -> str | None:
        return None

    def add_to_piece(self, data: memoryview) -> None:
        self._buffer += data

    def end_piece(self) -> None:
        self._send_part()

    def commit(self) -> StoredObject:
        if self.finished:
            raise StoreError("S3 store: commit after commit or abort")
        try:
            if self._sender is None and self.size <= self._store._large_object_size:
                self._store._call("put_object", Key=self.key, Body=bytes(self._buffer))
            else:
                if self._buffer or self._sender is None:
                    self._send_part()
                assert self._sender is not None
                self._sender.finish()
                parts = [{"ETag": etag, "PartNumber": number} for number, etag in sorted(self._etags.items())]
                self._store._call("complete_multipart_upload", Key=self.key, UploadId=self._upload_id,
                                  MultipartUpload={"Parts": parts})
        except BaseException:
            self.abort()
            raise
        self.finished = True
        self._buffer = bytearray()
        return StoredObject(key=self.key, url=self._store.url_for(self.key), size=self.size)

    def abort(self) -> None:
        if self.finished:
            return
        self.finished = True
        self._buffer = bytearray()
        if self._sender is not None:
            self._sender.cancel()
        if self._upload_id is None:
            return
        try:
            self._store._call("abort_multipart_upload", Key=self.key, UploadId=self._upload_id)
        except StoreError as exc:
            log.warning("S3 store: could not abort the multipart upload of %s (%s); "
                        "deleting the key or purge_incomplete removes it later", self.key, exc)

    def _send_part(self) -> None:
        """Send the filled buffer as the next part, while up to ``thread_pools`` earlier ones are still sent."""
        if self._sender is None:
            self._upload_id = self._store._call("create_multipart_upload", Key=self.key)["UploadId"]
            self._sender = ParallelSends(self._store.senders(), self._store.parts_in_flight)
        body = bytes(self._buffer)
        self._buffer = bytearray()
        self._parts_sent += 1
        self._sender.submit(self._send, self._parts_sent, body)

    def _send(self, number: int, body: bytes) -> None:
        answer = self._store._call("upload_part", Key=self.key, UploadId=self._upload_id, PartNumber=number,
                                   Body=body)
        self._etags[number] = answer["ETag"]


class _BodyChunks:
    """Iterates a GET's body in chunks, translating transport errors; ``close()`` releases the connection."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self._chunks = body.iter_chunks(READ_CHUNK)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            chunk: bytes = next(self._chunks)
        except StopIteration:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise _translate(exc) from None
        return chunk

    def close(self) -> None:
        self._body.close()


def _client(endpoint: str, access_key: str, secret_key: str, region: str, style: str, connect_timeout: float,
            read_timeout: float) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise StoreConfigError("driver", "the s3 driver needs boto3: pip install 'glimpse[s3]'") from None
    config = Config(s3={"addressing_style": style}, signature_version="s3v4",
                    retries={"max_attempts": 2, "mode": "standard"},
                    connect_timeout=connect_timeout, read_timeout=read_timeout,
                    # the ingest pipeline hashes every byte already
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    return boto3.session.Session().client("s3", endpoint_url=endpoint, aws_access_key_id=access_key,
                                          aws_secret_access_key=secret_key, region_name=region, config=config)


def _checked(key: str) -> str:
    if not key or key.startswith("/") or "\\" in key:
        raise StoreError(f"invalid object key {key!r}")
    return key


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    code = str(response.get("Error", {}).get("Code", ""))
    return code or str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _translate(exc: BaseException, *, reading: bool = False) -> StoreError:
    """Our error for a boto3/botocore one; the message names the condition, never the host or keys."""
    from botocore import exceptions as boto

    code = _code(exc)
    if isinstance(exc, boto.ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _NOT_FOUND or (reading and code == "NoSuchBucket"):
            return StoreObjectNotFound("S3 store: no such object")
        if code in _REFUSED:
            return StoreUnavailableError(f"S3 store: the endpoint refused our credentials ({code})")
        if code in _FULL:
            return StoreFullError(f"S3 store: no room for the object ({code})")
        if code == "NoSuchBucket":
            return StoreUnavailableError("S3 store: the bucket does not exist (and create_bucket_on_put is off)")
        if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "RequestTimeout"):
            return StoreUnavailableError(f"S3 store: the endpoint is failing ({code or status})")
        return StoreError(f"S3 store: request refused ({code or status})")
    from urllib3 import exceptions as transport

    if isinstance(exc, (boto.ConnectionError, boto.HTTPClientError, transport.HTTPError)):
        return StoreUnavailableError(f"S3 store: the endpoint cannot be reached ({type(exc).__name__})")
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, (boto.BotoCoreError, OSError)):
        return StoreUnavailableError(f"S3 store: transport error ({type(exc).__name__})")
    return StoreError(f"S3 store: unexpected error ({type(exc).__name__})")
