"""HTTP caching over a real server: validators, 304, 412 and If-Range."""

from __future__ import annotations

import email.utils
import hashlib
import os
import threading

from tests.conftest import Api, on_both_server_paths

#: Every test here runs with the server's fast paths and again on plain uvicorn + Starlette.
server = on_both_server_paths()

PATCH = "application/openstack-images-v2.1-json-patch"


def active_image(api: Api, data: bytes, **fields: object) -> dict[str, object]:
    image = api.create(**fields)
    assert api.upload(str(image["id"]), data).status_code == 204
    return api.show(str(image["id"]))


def test_download_carries_strong_etag_from_content_hash_and_cache_headers(api: Api) -> None:
    data = os.urandom(100_000)
    image = active_image(api, data)
    response = api.http.get(f"/v2/images/{image['id']}/file")
    assert response.status_code == 200 and response.content == data
    assert response.headers["etag"] == f'"{hashlib.sha512(data).hexdigest()}"'
    assert response.headers["accept-ranges"] == "bytes"
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["cache-control"].startswith("private")  # a private image: no shared caches
    assert email.utils.parsedate_to_datetime(response.headers["last-modified"]) is not None


def test_public_image_data_may_be_kept_by_shared_caches(admin: Api) -> None:
    image = active_image(admin, b"public bytes", visibility="public")
    response = admin.http.get(f"/v2/images/{image['id']}/file")
    assert response.headers["cache-control"].startswith("public,")
    assert "max-age=" in response.headers["cache-control"]


def test_download_if_none_match_is_304_without_body(api: Api) -> None:
    image = active_image(api, b"x" * 5000)
    etag = api.http.get(f"/v2/images/{image['id']}/file").headers["etag"]
    response = api.http.get(f"/v2/images/{image['id']}/file", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["etag"] == etag
    other = api.http.get(f"/v2/images/{image['id']}/file", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == b"x" * 5000


def test_download_if_modified_since(api: Api) -> None:
    image = active_image(api, b"y" * 5000)
    last_modified = api.http.get(f"/v2/images/{image['id']}/file").headers["last-modified"]
    assert api.http.get(f"/v2/images/{image['id']}/file",
                        headers={"If-Modified-Since": last_modified}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert api.http.get(f"/v2/images/{image['id']}/file", headers={"If-Modified-Since": old}).status_code == 200
    # If-None-Match wins over If-Modified-Since
    both = api.http.get(f"/v2/images/{image['id']}/file",
                        headers={"If-Modified-Since": last_modified, "If-None-Match": '"other"'})
    assert both.status_code == 200


def test_if_range_with_current_etag_gives_the_range(api: Api) -> None:
    data = bytes(range(256)) * 40
    image = active_image(api, data)
    etag = api.http.head(f"/v2/images/{image['id']}/file").headers["etag"]
    response = api.http.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=10-19", "If-Range": etag})
    assert response.status_code == 206 and response.content == data[10:20]


def test_if_range_with_other_etag_or_date_gives_everything(api: Api) -> None:
    data = bytes(range(256)) * 40
    image = active_image(api, data)
    for validator in ('"stale"', "Mon, 01 Jan 2001 00:00:00 GMT"):
        response = api.http.get(f"/v2/images/{image['id']}/file",
                                headers={"Range": "bytes=10-19", "If-Range": validator})
        assert response.status_code == 200 and response.content == data


def test_if_range_with_current_date_gives_the_range(api: Api) -> None:
    data = b"z" * 3000
    image = active_image(api, data)
    last_modified = api.http.head(f"/v2/images/{image['id']}/file").headers["last-modified"]
    response = api.http.get(f"/v2/images/{image['id']}/file",
                            headers={"Range": "bytes=-5", "If-Range": last_modified})
    assert response.status_code == 206 and response.content == data[-5:]


def test_stale_if_range_beats_an_unsatisfiable_range(api: Api) -> None:
    image = active_image(api, b"short")
    response = api.http.get(f"/v2/images/{image['id']}/file",
                            headers={"Range": "bytes=100-200", "If-Range": '"stale"'})
    assert response.status_code == 200 and response.content == b"short"


def test_download_if_match_other_data_is_412(api: Api) -> None:
    image = active_image(api, b"data")
    response = api.http.get(f"/v2/images/{image['id']}/file", headers={"If-Match": '"not-this"'})
    assert response.status_code == 412, response.text


def test_show_etag_changes_with_every_update_and_304_until_then(api: Api) -> None:
    image = api.create(name="v1")
    first = api.http.get(f"/v2/images/{image['id']}")
    etag = first.headers["etag"]
    again = api.http.get(f"/v2/images/{image['id']}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert api.patch(image["id"], [{"op": "replace", "path": "/name", "value": "v2"}]).status_code == 200
    after = api.http.get(f"/v2/images/{image['id']}", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.json()["name"] == "v2"
    assert after.headers["etag"] != etag
    assert api.http.put(f"/v2/images/{image['id']}/tags/t1").status_code == 204
    assert api.http.get(f"/v2/images/{image['id']}").headers["etag"] != after.headers["etag"]


def test_create_and_patch_answer_with_the_new_etag(api: Api) -> None:
    created = api.http.post("/v2/images", json={"name": "e"})
    assert created.status_code == 201
    shown = api.http.get(f"/v2/images/{created.json()['id']}")
    assert created.headers["etag"] == shown.headers["etag"]
    patched = api.patch(created.json()["id"], [{"op": "add", "path": "/k", "value": "v"}])
    assert patched.headers["etag"] == api.http.get(f"/v2/images/{created.json()['id']}").headers["etag"]


def test_patch_with_current_if_match_applies(api: Api) -> None:
    image = api.create(name="a")
    etag = api.http.get(f"/v2/images/{image['id']}").headers["etag"]
    response = api.http.patch(f"/v2/images/{image['id']}", headers={"Content-Type": PATCH, "If-Match": etag},
                              content=b'[{"op": "replace", "path": "/name", "value": "b"}]')
    assert response.status_code == 200 and response.json()["name"] == "b"


def test_patch_with_stale_if_match_is_412_and_changes_nothing(api: Api) -> None:
    image = api.create(name="a")
    stale = api.http.get(f"/v2/images/{image['id']}").headers["etag"]
    assert api.patch(image["id"], [{"op": "replace", "path": "/name", "value": "b"}]).status_code == 200
    response = api.http.patch(f"/v2/images/{image['id']}", headers={"Content-Type": PATCH, "If-Match": stale},
                              content=b'[{"op": "replace", "path": "/name", "value": "c"}]')
    assert response.status_code == 412
    assert "If-Match" in response.json()["message"]
    assert api.show(image["id"])["name"] == "b"


def test_if_match_star_and_garbage(api: Api) -> None:
    image = api.create(name="a")
    star = api.http.patch(f"/v2/images/{image['id']}", headers={"Content-Type": PATCH, "If-Match": "*"},
                          content=b'[{"op": "replace", "path": "/name", "value": "b"}]')
    assert star.status_code == 200
    garbage = api.http.patch(f"/v2/images/{image['id']}", headers={"Content-Type": PATCH, "If-Match": "nonsense"},
                             content=b'[{"op": "replace", "path": "/name", "value": "c"}]')
    assert garbage.status_code == 412


def test_delete_with_stale_if_match_is_412_and_keeps_the_image(api: Api) -> None:
    image = api.create()
    stale = api.http.get(f"/v2/images/{image['id']}").headers["etag"]
    assert api.http.put(f"/v2/images/{image['id']}/tags/x").status_code == 204
    assert api.http.delete(f"/v2/images/{image['id']}", headers={"If-Match": stale}).status_code == 412
    current = api.http.get(f"/v2/images/{image['id']}").headers["etag"]
    assert api.http.delete(f"/v2/images/{image['id']}", headers={"If-Match": current}).status_code == 204
    assert api.http.get(f"/v2/images/{image['id']}").status_code == 404


def test_concurrent_patches_with_the_same_if_match_exactly_one_wins(api: Api) -> None:
    image = api.create(name="start")
    etag = api.http.get(f"/v2/images/{image['id']}").headers["etag"]
    statuses: list[int] = []

    def attempt(n: int) -> None:
        client = Api(api.base_url, api.project)
        try:
            response = client.http.patch(
                f"/v2/images/{image['id']}", headers={"Content-Type": PATCH, "If-Match": etag},
                content=f'[{{"op": "replace", "path": "/name", "value": "w{n}"}}]'.encode())
            statuses.append(response.status_code)
        finally:
            client.close()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [412] * 7


def test_list_etag_reflects_the_page_and_answers_304(api: Api) -> None:
    api.create(name="one")
    first = api.http.get("/v2/images")
    etag = first.headers["etag"]
    assert api.http.get("/v2/images", headers={"If-None-Match": etag}).status_code == 304
    api.create(name="two")
    changed = api.http.get("/v2/images", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_schemas_are_cacheable_and_revalidate(api: Api) -> None:
    response = api.http.get("/v2/schemas/image")
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("public, max-age=")
    again = api.http.get("/v2/schemas/image", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
