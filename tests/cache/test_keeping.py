"""The cache keeps to its size by evicting the least recently used images, survives restarts, and prefetches
on demand (``glimpse-manage cache prefetch``)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.cache.conftest import CACHE_MAX, MiB, Site, cached_ids, download, uploaded, wait_for
from tests.conftest import Api, Server, manage


def test_least_recently_used_images_are_evicted_at_the_size_cap(owner: Api, site: Site) -> None:
    node = site.node("lru")
    images = [uploaded(owner, os.urandom(MiB + MiB // 5), name=f"lru-{i}") for i in range(3)]
    first, second, third = (image["id"] for image in images)
    for image_id in (first, second):
        assert download(node, image_id).status_code == 200
        wait_for(lambda: image_id in cached_ids(node), what="the fill")
    assert download(node, first).headers["x-glimpse-cache"] == "hit"  # first is now the most recently used
    assert download(node, third).headers["x-glimpse-cache"] == "miss"
    wait_for(lambda: third in cached_ids(node), what="the fill")
    wait_for(lambda: second not in cached_ids(node), what="the eviction")
    assert sorted(cached_ids(node)) == sorted([first, third])
    held = sum(p.stat().st_size for p in (node.data_dir / "image-cache" / "data").iterdir())
    assert held <= CACHE_MAX
    assert not (node.data_dir / "image-cache" / "data" / second).exists()
    big = uploaded(owner, os.urandom(CACHE_MAX + 1), name="too-big")
    too_big = download(node, big["id"])
    assert too_big.status_code == 200 and "x-glimpse-cache" not in too_big.headers
    assert big["id"] not in cached_ids(node)


def test_the_cache_survives_a_restart_and_the_prefetch_command(owner: Api, site: Site) -> None:
    node = site.node("restart", image_cache_interval=3600)
    data = os.urandom(MiB)
    image = uploaded(owner, data)
    assert download(node, image["id"]).content == data
    wait_for(lambda: image["id"] in cached_ids(node), what="the fill")
    queued = uploaded(owner, os.urandom(MiB // 2), name="queued")
    node.stop()
    common = ("--data-dir", str(node.data_dir), "--database-url", site.database_url)
    env_extensions = {"GLIMPSE_EXTENSIONS": '["cache"]'}
    result = _manage(site, *common, "cache", "queue", queued["id"], env=env_extensions)
    assert result.returncode == 0, result.stderr
    result = _manage(site, *common, "cache", "prefetch", env=env_extensions)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 images cached")
    listing = _manage(site, *common, "cache", "list", env=env_extensions).stdout
    assert image["id"] in listing and queued["id"] in listing and "queued" not in listing
    assert manage("cache", "list", "--data-dir", str(node.data_dir), database_url=site.database_url
                  ).returncode != 0  # the extension is off in these settings: said so, in one line
    restarted = site.node("restart", image_cache_interval=3600)
    for image_id, expected in ((image["id"], data), (queued["id"], None)):
        again = download(restarted, image_id)
        assert again.headers["x-glimpse-cache"] == "hit"
        if expected is not None:
            assert again.content == expected
    leftover = restarted.data_dir / "image-cache" / "incomplete" / "stray"
    leftover.write_bytes(b"half a fill")
    restarted.stop()
    site.node("restart", image_cache_interval=3600)
    assert not leftover.exists()  # the cleaner ran at start-up


def _manage(site: Site, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    environment.update(site.env)
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "glimpse.cli.manage", *args], capture_output=True, text=True,
                          timeout=120, env=environment)
