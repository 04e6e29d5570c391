"""A miss is served while it fills the cache; the next read is a hit; bad cache files are never served."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os

import httpx

from tests.cache.conftest import MiB, Site, cached_ids, download, uploaded, wait_for
from tests.conftest import Api, Server


def test_a_miss_fills_the_cache_and_the_second_read_is_a_hit(owner: Api, streaming: Server) -> None:
    data = os.urandom(2 * MiB + 123)
    image = uploaded(owner, data)
    first = download(streaming, image["id"])
    assert first.status_code == 200
    assert first.headers["x-glimpse-cache"] == "miss"
    assert first.content == data
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the fill")
    second = download(streaming, image["id"])
    assert second.headers["x-glimpse-cache"] == "hit"
    assert second.content == data
    assert hashlib.sha512(second.content).hexdigest() == image["os_hash_value"]
    assert second.headers["content-md5"] == image["checksum"]
    assert (streaming.data_dir / "image-cache" / "data" / image["id"]).read_bytes() == data


def test_hits_answer_ranges_and_conditional_requests(owner: Api, streaming: Server) -> None:
    data = os.urandom(MiB)
    image = uploaded(owner, data)
    assert download(streaming, image["id"]).content == data
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the fill")
    ranged = download(streaming, image["id"], Range="bytes=1000-2999")
    assert ranged.status_code == 206
    assert ranged.headers["x-glimpse-cache"] == "hit"
    assert ranged.content == data[1000:3000]
    assert ranged.headers["content-range"] == f"bytes 1000-2999/{len(data)}"
    suffix = download(streaming, image["id"], Range="bytes=-10")
    assert suffix.content == data[-10:]
    whole = download(streaming, image["id"])
    assert download(streaming, image["id"], **{"If-None-Match": whole.headers["etag"]}).status_code == 304
    assert download(streaming, image["id"], Range=f"bytes={len(data)}-").status_code == 416


def test_a_range_on_a_miss_comes_from_the_store_and_fills_in_the_background(owner: Api, streaming: Server) -> None:
    data = os.urandom(MiB + 17)
    image = uploaded(owner, data)
    ranged = download(streaming, image["id"], Range="bytes=10-19")
    assert ranged.status_code == 206 and ranged.content == data[10:20]
    assert "x-glimpse-cache" not in ranged.headers
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the background fill")
    assert download(streaming, image["id"]).headers["x-glimpse-cache"] == "hit"


def test_concurrent_misses_share_one_fill_across_worker_processes(owner: Api, streaming: Server) -> None:
    data = os.urandom(2 * MiB + 5)
    image = uploaded(owner, data)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: download(streaming, image["id"]), range(6)))
    assert all(r.status_code == 200 and r.content == data for r in responses)
    kinds = [r.headers.get("x-glimpse-cache", "none") for r in responses]
    assert kinds.count("miss") <= 1, kinds  # one fill; the others joined it or hit its result
    assert set(kinds) <= {"miss", "miss; joined", "hit"}, kinds
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the fill")
    fills = (streaming.data_dir / "server.log").read_text().count(f"image {image['id']} cached")
    assert fills <= 1


def test_a_corrupted_cache_file_is_dropped_and_refetched(owner: Api, streaming: Server) -> None:
    data = os.urandom(MiB + 1)
    image = uploaded(owner, data)
    assert download(streaming, image["id"]).content == data
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the fill")
    path = streaming.data_dir / "image-cache" / "data" / image["id"]
    with open(path, "r+b") as f:  # same size, other bytes
        f.seek(4096)
        f.write(bytes(b ^ 0xFF for b in data[4096:4196]))
    again = download(streaming, image["id"])
    assert again.headers["x-glimpse-cache"] != "hit"
    assert again.content == data
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the refill")
    refilled = download(streaming, image["id"])
    assert refilled.headers["x-glimpse-cache"] == "hit" and refilled.content == data


def test_a_truncated_cache_file_is_never_served(owner: Api, streaming: Server) -> None:
    data = os.urandom(MiB + 3)
    image = uploaded(owner, data)
    assert download(streaming, image["id"]).content == data
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the fill")
    os.truncate(streaming.data_dir / "image-cache" / "data" / image["id"], 1000)
    again = download(streaming, image["id"])
    assert again.headers["x-glimpse-cache"] != "hit" and again.content == data


def test_an_image_without_data_or_deactivated_is_not_served_from_the_cache(owner: Api, streaming: Server) -> None:
    empty = owner.create(name="no-data", visibility="community")
    assert download(streaming, empty["id"]).status_code == 204
    data = os.urandom(MiB)
    image = uploaded(owner, data)
    assert download(streaming, image["id"]).content == data
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the fill")
    assert owner.http.post(f"/v2/images/{image['id']}/actions/deactivate").status_code == 204
    assert download(streaming, image["id"]).status_code == 403
    wait_for(lambda: image["id"] not in cached_ids(streaming), what="the cleaner to drop it")
    assert not (streaming.data_dir / "image-cache" / "data" / image["id"]).exists()
    assert owner.http.post(f"/v2/images/{image['id']}/actions/reactivate").status_code == 204
    assert download(streaming, image["id"]).headers["x-glimpse-cache"] == "miss"


def test_a_deleted_image_is_purged_from_the_cache_of_every_node(owner: Api, streaming: Server) -> None:
    data = os.urandom(MiB)
    image = uploaded(owner, data)
    assert download(streaming, image["id"]).content == data
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the fill")
    assert owner.http.delete(f"/v2/images/{image['id']}").status_code == 204  # through the registry node
    assert download(streaming, image["id"]).status_code == 404
    wait_for(lambda: image["id"] not in cached_ids(streaming), what="the cleaner to purge it")
    assert not (streaming.data_dir / "image-cache" / "data" / image["id"]).exists()


def test_the_version_document_lists_the_cache_api_versions(streaming: Server, registry: Server) -> None:
    with_cache = [v["id"] for v in httpx.get(f"{streaming.url}/versions").json()["versions"]]
    without = [v["id"] for v in httpx.get(f"{registry.url}/versions").json()["versions"]]
    assert {"v2.14", "v2.16"} <= set(with_cache)
    assert not {"v2.14", "v2.16"} & set(without)
    assert with_cache[0] == "v2.17"
    choices = httpx.get(f"{streaming.url}/")
    assert choices.status_code == 300
    assert [v["id"] for v in choices.json()["versions"]] == with_cache
    unknown_version = httpx.get(f"{streaming.url}/v9/images")
    assert unknown_version.status_code == 300
    assert [v["id"] for v in unknown_version.json()["versions"]] == with_cache


def test_a_miss_on_data_missing_from_the_store_answers_as_without_the_cache(
        owner: Api, streaming: Server, registry: Server, site: Site) -> None:
    image = uploaded(owner, os.urandom(MiB))
    (site.root / "shared" / "images" / image["id"]).unlink()
    without = download(registry, image["id"])
    with_cache = download(streaming, image["id"])
    assert with_cache.status_code == without.status_code == 503
    assert with_cache.text == without.text and "cannot be read" in with_cache.text
    assert image["id"] not in cached_ids(streaming)


def test_the_plain_server_path_serves_misses_and_hits_alike(owner: Api, site: Site) -> None:
    node = site.node("plain-path", server_fast_paths="false")
    data = os.urandom(MiB + 99)
    image = uploaded(owner, data)
    first = download(node, image["id"])
    assert first.headers["x-glimpse-cache"] == "miss" and first.content == data
    wait_for(lambda: image["id"] in cached_ids(node), what="the fill")
    hit = download(node, image["id"])
    assert hit.headers["x-glimpse-cache"] == "hit" and hit.content == data
    ranged = download(node, image["id"], Range="bytes=5-9")
    assert ranged.status_code == 206 and ranged.content == data[5:10]
