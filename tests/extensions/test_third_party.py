"""A third-party extension, installed as its own package, adds a route and changes documented behaviour."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from pathlib import Path

import httpx

from glimpse.extensions import hookspecs
from tests.conftest import Api, Server
from tests.extensions.conftest import start_with_extensions

HOOKS = sorted(name for name in vars(hookspecs) if hasattr(getattr(hookspecs, name), "glimpse_spec"))


def _outbox(server: Server) -> list[tuple[str, str, dict[str, object]]]:
    with sqlite3.connect(server.data_dir / "glimpse.db") as db:
        rows = db.execute("SELECT ordering_key, event_type, body FROM outbox ORDER BY id").fetchall()
    return [(key, kind, json.loads(body)) for key, kind, body in rows]


def test_the_extension_is_listed_with_what_it_adds(acme: Api) -> None:
    listing = acme.http.get("/v2/extensions").json()["extensions"]
    assert [e["alias"] for e in listing] == ["templates", "cache", "acme-watermark"]
    shown = acme.http.get("/v2/extensions/acme-watermark").json()["extension"]
    assert shown["name"] == "ACME watermark"
    assert shown["version"] == "1.2.0"
    assert shown["builtin"] is False
    assert shown["description"].startswith("A third-party Glimpse extension")
    assert shown["adds"]["routes"] == ["/v2/acme/hooks"]
    assert set(shown["adds"]["hooks"]) == set(HOOKS)
    assert {"rel": "describedby", "href": "https://acme.example.org/glimpse-watermark",
            "title": "Documentation"} in shown["links"]
    assert shown["links"][0]["href"].endswith("/v2/extensions/acme-watermark")


def test_an_unknown_extension_alias_is_404(acme: Api) -> None:
    response = acme.http.get("/v2/extensions/notifications")
    assert response.status_code == 404
    assert "GET /v2/extensions" in response.json()["message"]


def test_the_extension_annotates_new_images(acme: Api, project: str) -> None:
    image = acme.create(name="plain")
    assert image["acme_watermark"] == f"acme:{project}"


def test_the_extension_refuses_forbidden_names_on_create_and_rename(acme: Api) -> None:
    response = acme.http.post("/v2/images", json={"name": "forbidden-one", "disk_format": "raw",
                                                   "container_format": "bare"})
    assert response.status_code == 403
    assert "ACME policy" in response.json()["message"]
    image = acme.create(name="fine")
    renamed = acme.patch(image["id"], [{"op": "replace", "path": "/name", "value": "forbidden-two"}])
    assert renamed.status_code == 403
    assert acme.show(image["id"])["name"] == "fine"


def test_the_extension_transforms_updates(acme: Api) -> None:
    image = acme.create(name="before")
    response = acme.patch(image["id"], [{"op": "replace", "path": "/name", "value": "after"}])
    assert response.status_code == 200, response.text
    assert response.json()["acme_touched"] == "yes"


def test_the_extension_can_refuse_an_upload_and_the_image_stays_queued(acme: Api) -> None:
    image = acme.create(name="no-data", acme_no_data="1")
    response = acme.upload(image["id"], b"bytes")
    assert response.status_code == 403
    assert acme.show(image["id"])["status"] == "queued"


def test_outbox_rows_are_written_with_the_change_and_never_for_a_rolled_back_one(
        acme: Api, acme_server: Server) -> None:
    image = acme.create(name="audited")
    acme.patch(image["id"], [{"op": "add", "path": "/colour", "value": "blue"}])
    audits = [body["event"] for key, kind, body in _outbox(acme_server) if key == image["id"]]
    assert audits == ["image.create", "image.update"]

    # A fresh connection: the server closes a connection after an unexpected error.
    exploding = httpx.patch(f"{acme_server.url}/v2/images/{image['id']}",
                            content=json.dumps([{"op": "add", "path": "/acme_explode", "value": "1"}]),
                            headers={"Content-Type": "application/openstack-images-v2.1-json-patch",
                                     "X-Project-Id": acme.project or "", "Accept": "application/json"})
    assert exploding.status_code == 500
    shown = acme.show(image["id"])
    assert "acme_explode" not in shown and shown["colour"] == "blue"
    assert [body["event"] for key, _, body in _outbox(acme_server) if key == image["id"]] == audits


def test_every_hook_fires_through_a_full_lifecycle(acme: Api, acme_server: Server) -> None:
    other = uuid.uuid4().hex
    image = acme.create(name="lifecycle", visibility="shared")
    acme.patch(image["id"], [{"op": "add", "path": "/purpose", "value": "test"}])
    assert acme.upload(image["id"], b"x" * 1000, **{"x-openstack-image-size": "999"}).status_code == 400
    assert acme.upload(image["id"], b"x" * 1000).status_code == 204
    assert acme.http.get(f"/v2/images/{image['id']}/file").content == b"x" * 1000
    assert acme.http.post(f"/v2/images/{image['id']}/members", json={"member": other}).status_code == 200
    accepted = acme.as_project(other).http.put(f"/v2/images/{image['id']}/members/{other}",
                                               json={"status": "accepted"})
    assert accepted.status_code == 200
    assert acme.http.delete(f"/v2/images/{image['id']}/members/{other}").status_code == 204
    template = acme.http.post("/v2/templates", json={
        "name": "lifecycle", "version": "1.0.0", "image_id": image["id"], "visibility": "shared",
        "user_data": "#cloud-config\nhostname: web\n"})
    assert template.status_code == 201, template.text
    assert acme.http.delete(f"/v2/templates/{template.json()['id']}").status_code == 204
    assert acme.http.delete(f"/v2/images/{image['id']}").status_code == 204

    calls = acme.http.get("/v2/acme/hooks").json()["calls"]
    assert sorted(calls) == HOOKS


def _cached_by(admin: Api, image_id: str) -> str | None:
    """Which source filled the cache file of ``image_id``, once it is valid."""
    for entry in admin.http.get("/v2/cache").json()["cached_images"]:
        if entry["image_id"] == image_id:
            return str(entry["source"])
    return None


def test_a_cache_filler_fills_the_cache_and_bad_data_from_it_is_refused(acme: Api, acme_server: Server) -> None:
    admin = acme.as_project(acme.project or "", roles="admin,member,reader")
    for mode, source in (("good", "acme"), ("bad", "store")):
        data = bytes(range(256)) * 4096
        image = acme.create(name=f"filled-{mode}", acme_filler=mode)
        assert acme.upload(image["id"], data).status_code == 204
        assert admin.http.put(f"/v2/cache/{image['id']}").status_code == 202
        deadline = time.monotonic() + 20
        while _cached_by(admin, image["id"]) is None:
            assert time.monotonic() < deadline, "the prefetcher did not cache the image"
            time.sleep(0.05)
        assert _cached_by(admin, image["id"]) == source
        hit = acme.http.get(f"/v2/images/{image['id']}/file")
        assert hit.headers["x-glimpse-cache"] == "hit" and hit.content == data
    assert "cache filler acme delivered bad data" in acme_server.log.read_text()
    admin.close()


def test_a_stalled_cache_filler_is_stopped_and_its_download_finishes_from_the_store(
        acme: Api, acme_server: Server) -> None:
    admin = acme.as_project(acme.project or "", roles="admin,member,reader")
    data = bytes(range(256)) * 8192
    image = acme.create(name="stalls", acme_filler="stall")
    assert acme.upload(image["id"], data).status_code == 204
    started = time.monotonic()
    response = acme.http.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 200 and response.content == data  # half from the filler, half from the store
    assert response.headers["x-glimpse-cache"] == "miss"
    assert time.monotonic() - started >= 1  # image_cache_stall_time
    deadline = time.monotonic() + 20
    while _cached_by(admin, image["id"]) is None:
        assert time.monotonic() < deadline, "the stalled fill was not stopped and redone from the store"
        time.sleep(0.05)
    assert _cached_by(admin, image["id"]) == "store"
    assert acme.http.get(f"/v2/images/{image['id']}/file").content == data
    admin.close()


def test_a_disabled_extension_leaves_no_trace(acme_site: Path, tmp_path: Path) -> None:
    server = start_with_extensions(tmp_path / "plain", "[]", acme_site)
    try:
        api = Api(server.url, uuid.uuid4().hex)
        assert api.http.get("/v2/extensions").json() == {"extensions": []}
        assert api.http.get("/v2/acme/hooks").status_code == 404
        image = api.create(name="forbidden-is-fine-here")
        assert "acme_watermark" not in image
        assert _outbox(server) == []
        api.close()
    finally:
        server.stop()


def test_enabling_an_extension_that_is_not_installed_stops_the_node(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "glimpse.cli.serve", "--data-dir", str(tmp_path), "--port", "0"],
                            env={"GLIMPSE_EXTENSIONS": '["acme-missing"]', "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "extension 'acme-missing' is enabled in the settings but not installed" in result.stderr
    assert "notifications" in result.stderr


def test_extensions_are_linked_from_the_version_document(acme_server: Server) -> None:
    links = httpx.get(acme_server.url + "/versions").json()["versions"][0]["links"]
    assert {"rel": "extensions", "href": f"{acme_server.url}/v2/extensions"} in links


def test_a_third_party_import_method(acme_site: Path, tmp_path: Path) -> None:
    server = start_with_extensions(tmp_path / "both", '["image-import", "acme-watermark"]', acme_site)
    try:
        api = Api(server.url, uuid.uuid4().hex)
        methods = api.http.get("/v2/info/import").json()["import-methods"]["value"]
        assert sorted(methods) == ["acme-greeting", "glance-direct", "web-download"]
        image = api.create(name="greeted")
        assert api.http.post(f"/v2/images/{image['id']}/import",
                             json={"method": {"name": "acme-greeting"}}).status_code == 202
        deadline = time.monotonic() + 30
        while api.show(image["id"])["status"] != "active":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert api.http.get(f"/v2/images/{image['id']}/file").content == b"hello from acme\n" * 64
        refused = api.http.post(f"/v2/images/{api.create()['id']}/import",
                                json={"method": {"name": "acme-greeting", "uri": "http://x"}})
        assert refused.status_code == 400 and "takes no 'uri'" in refused.json()["message"]
    finally:
        server.stop()


def test_a_client_that_leaves_a_miss_stops_its_response_and_the_fill_goes_on(
        acme: Api, acme_server: Server) -> None:
    admin = acme.as_project(acme.project or "", roles="admin,member,reader")
    data = os.urandom(16 * 1024 * 1024)  # the rest, after the stall, is many store chunks
    image = acme.create(name="left", acme_filler="stall")  # half from the filler, then a stall (1 s)
    assert acme.upload(image["id"], data).status_code == 204
    logged_before = len(acme_server.log.read_text())
    with httpx.Client(base_url=acme_server.url, headers=dict(acme.http.headers), timeout=30) as client:
        with client.stream("GET", f"/v2/images/{image['id']}/file") as response:
            assert response.headers["x-glimpse-cache"] == "miss"
            first = next(response.iter_raw(65536))
            assert data.startswith(first)
        # leaving closes the connection while the response waits for the stalled fill
    deadline = time.monotonic() + 20
    while (left := acme.http.get("/v2/acme/hooks").json()["downloads"].get(image["id"])) is None:
        assert time.monotonic() < deadline, "the response the client left never ended"
        time.sleep(0.05)
    # it stopped when the client left: it did not go on to read the rest from the store for nobody
    assert left[1] is False and left[0] < len(data), left
    while _cached_by(admin, image["id"]) is None:
        assert time.monotonic() < deadline, "the fill did not finish after its first reader left"
        time.sleep(0.05)
    assert acme.http.get(f"/v2/images/{image['id']}/file").content == data
    assert "Traceback" not in acme_server.log.read_text()[logged_before:]
    admin.close()


def test_a_client_that_leaves_a_streamed_download_stops_the_store_read(acme_site: Path, tmp_path: Path) -> None:
    # without the fast paths a filesystem download is streamed chunk by chunk, as from a remote store
    server = start_with_extensions(tmp_path / "streamed", '["acme-watermark"]', acme_site,
                                   env={"GLIMPSE_SERVER_FAST_PATHS": "false"})
    try:
        api = Api(server.url, uuid.uuid4().hex)
        data = os.urandom(64 * 1024 * 1024)
        image = api.create(name="left-streamed")
        assert api.upload(image["id"], data).status_code == 204
        with httpx.Client(base_url=server.url, headers=dict(api.http.headers), timeout=30) as client:
            with client.stream("GET", f"/v2/images/{image['id']}/file") as response:
                assert data.startswith(next(response.iter_raw(65536)))
        deadline = time.monotonic() + 20
        while (left := api.http.get("/v2/acme/hooks").json()["downloads"].get(image["id"])) is None:
            assert time.monotonic() < deadline, "the response the client left never ended"
            time.sleep(0.05)
        assert left[1] is False and left[0] < len(data), left
        assert api.http.get(f"/v2/images/{image['id']}/file").content == data  # the node serves on
        api.close()
    finally:
        server.stop()
