"""Glance's cache API through the real clients: glanceclient, openstacksdk and ``glimpse cache``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import openstack.connection
import pytest
from glanceclient import Client as GlanceClient
from glanceclient import exc as glance_exc
from keystoneauth1 import session as ks_session
from keystoneauth1 import noauth

from tests.cache.conftest import ADMIN_ROLES, MiB, cached_ids, download, uploaded, wait_for
from tests.conftest import Api, Server


@pytest.fixture
def glance(streaming: Server) -> GlanceClient:
    return GlanceClient("2", endpoint=streaming.url, token="unused",
                        identity_headers={"X-Project-Id": uuid.uuid4().hex, "X-Roles": ADMIN_ROLES})


@pytest.fixture
def sdk(streaming: Server) -> Iterator[openstack.connection.Connection]:
    session = ks_session.Session(auth=noauth.NoAuth(), additional_headers={"X-Project-Id": uuid.uuid4().hex,
                                                                           "X-Roles": ADMIN_ROLES})
    conn = openstack.connection.Connection(session=session, image_endpoint_override=streaming.url)
    yield conn
    conn.close()


def test_glanceclient_lists_queues_deletes_and_clears(glance: GlanceClient, owner: Api, streaming: Server) -> None:
    data = os.urandom(MiB + 11)
    image = uploaded(owner, data)
    glance.cache.queue(image["id"])
    wait_for(lambda: image["id"] in [e["image_id"] for e in glance.cache.list()["cached_images"]],
             what="the prefetcher")
    listing = glance.cache.list()
    entry = next(e for e in listing["cached_images"] if e["image_id"] == image["id"])
    assert entry["size"] == len(data) and entry["hits"] == 0
    assert image["id"] not in listing["queued_images"]
    assert download(streaming, image["id"]).headers["x-glimpse-cache"] == "hit"
    assert next(e for e in glance.cache.list()["cached_images"] if e["image_id"] == image["id"])["hits"] == 1
    glance.cache.delete(image["id"])
    assert image["id"] not in [e["image_id"] for e in glance.cache.list()["cached_images"]]
    assert not (streaming.data_dir / "image-cache" / "data" / image["id"]).exists()
    assert download(streaming, image["id"]).headers["x-glimpse-cache"] == "miss"
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the fill")
    glance.cache.clear("cache")
    assert glance.cache.list()["cached_images"] == []


def test_openstacksdk_cache_calls(sdk: openstack.connection.Connection, owner: Api, streaming: Server) -> None:
    data = os.urandom(MiB + 7)
    image = uploaded(owner, data)
    sdk.image.queue_image(image["id"])

    def cached() -> bool:
        return image["id"] in [c.image_id for c in sdk.image.get_image_cache().cached_images]

    wait_for(cached, what="the prefetcher")
    found = next(c for c in sdk.image.get_image_cache().cached_images if c.image_id == image["id"])
    assert found.size == len(data)
    sdk.image.cache_delete_image(image["id"])
    assert not cached()
    sdk.image.clear_cache("both")
    state = sdk.image.get_image_cache()
    assert state.cached_images == [] and state.queued_images == []


def test_the_queue_and_clear_targets(owner: Api, streaming: Server) -> None:
    admin = Api(streaming.url, uuid.uuid4().hex, roles=ADMIN_ROLES)
    image = uploaded(owner, os.urandom(1000))
    assert download(streaming, image["id"]).status_code == 200
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the fill")
    assert admin.http.delete("/v2/cache", headers={"x-image-cache-clear-target": "queue"}).status_code == 204
    assert image["id"] in cached_ids(streaming)
    assert admin.http.delete("/v2/cache", headers={"x-image-cache-clear-target": "cache"}).status_code == 204
    assert image["id"] not in cached_ids(streaming)
    bad = admin.http.delete("/v2/cache", headers={"x-image-cache-clear-target": "everything"})
    assert bad.status_code == 400 and "x-image-cache-clear-target" in bad.json()["message"]
    admin.close()


def test_bad_queue_requests_are_clear_4xx(owner: Api, streaming: Server) -> None:
    admin = Api(streaming.url, owner.project, roles=ADMIN_ROLES)
    assert admin.http.put(f"/v2/cache/{uuid.uuid4()}").status_code == 404
    assert admin.http.put("/v2/cache/not-a-uuid").status_code == 404
    queued = owner.create(name="no-data")
    refused = admin.http.put(f"/v2/cache/{queued['id']}")
    assert refused.status_code == 400 and "active" in refused.json()["message"]
    assert admin.http.put(f"/v2/cache/{queued['id']}", content=b"x").status_code == 400
    assert admin.http.post("/v2/cache").status_code == 405
    admin.close()


def test_the_cache_api_is_for_administrators(owner: Api, streaming: Server) -> None:
    image = uploaded(owner, os.urandom(100))
    member = Api(streaming.url, owner.project, roles="member,reader")
    assert member.http.get("/v2/cache").status_code == 403
    assert member.http.put(f"/v2/cache/{image['id']}").status_code == 403
    assert member.http.delete(f"/v2/cache/{image['id']}").status_code == 403
    assert member.http.delete("/v2/cache").status_code == 403
    member.close()


def test_glanceclient_refuses_the_cache_calls_on_a_node_without_the_cache(registry: Server) -> None:
    glance = GlanceClient("2", endpoint=registry.url, token="unused",
                          identity_headers={"X-Project-Id": uuid.uuid4().hex, "X-Roles": ADMIN_ROLES})
    with pytest.raises(glance_exc.HTTPNotImplemented):
        glance.cache.list()
    assert httpx.get(f"{registry.url}/v2/cache", headers={"X-Roles": ADMIN_ROLES}).status_code == 404


def _glimpse(streaming: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    # each node answers for its own cache: the calls go to the streaming endpoint, this node
    env.update({"OS_IMAGE_URL": streaming.url, "OS_IMAGE_STREAMING_URL": streaming.url,
                "OS_PROJECT_ID": uuid.uuid4().hex, "OS_ROLES": ADMIN_ROLES})
    return subprocess.run([sys.executable, "-m", "glimpseclient", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_the_glimpse_command_line_client(owner: Api, streaming: Server) -> None:
    data = os.urandom(MiB + 1)
    image = uploaded(owner, data)
    queued = _glimpse(streaming, "cache", "queue", image["id"])
    assert queued.returncode == 0, queued.stderr
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the prefetcher")
    listed = _glimpse(streaming, "cache", "list", "-f", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {"image_id": image["id"], "state": "cached"}.items() <= next(
        r for r in rows if r["image_id"] == image["id"]).items()
    assert _glimpse(streaming, "cache", "delete", image["id"]).returncode == 0
    assert image["id"] not in cached_ids(streaming)
    assert _glimpse(streaming, "cache", "clear", "--target", "queue").returncode == 0
    bad = _glimpse(streaming, "cache", "clear", "--target", "all")
    assert bad.returncode == 2


def _glance(streaming: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``glance`` command (no identity headers: an administrator for the noauth strategy)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    glance = os.path.join(os.path.dirname(sys.executable), "glance")
    return subprocess.run([glance, "--os-image-url", streaming.url, "--os-auth-token", "unused", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_the_glance_command_line_cache_commands(owner: Api, streaming: Server) -> None:
    image = uploaded(owner, os.urandom(MiB + 3))
    queued = _glance(streaming, "cache-queue", image["id"])
    assert queued.returncode == 0, queued.stderr
    wait_for(lambda: image["id"] in cached_ids(streaming), what="the prefetcher")
    listed = _glance(streaming, "cache-list")
    assert listed.returncode == 0 and image["id"] in listed.stdout, listed.stderr
    deleted = _glance(streaming, "cache-delete", image["id"])
    assert deleted.returncode == 0, deleted.stderr
    assert image["id"] not in cached_ids(streaming)
    assert _glance(streaming, "cache-clear", "--target", "both").returncode == 0
    assert image["id"] not in _glance(streaming, "cache-list").stdout
