"""GET /v2/images: scoping, filters, sorting and pagination."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.conftest import Api


def listing(api: Api, **params: Any) -> dict[str, Any]:
    response = api.http.get("/v2/images", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names(api: Api, **params: Any) -> list[str]:
    return [image["name"] for image in listing(api, **params)["images"]]


@pytest.fixture
def batch(api: Api) -> str:
    """A unique value of the ``batch`` property, to list only one test's images."""
    return uuid.uuid4().hex


def test_list_shape(api: Api) -> None:
    body = listing(api)
    assert set(body) >= {"images", "first", "schema"}
    assert body["schema"] == "/v2/schemas/images"
    assert body["first"] == "/v2/images"


def test_default_scope_owned_public_and_accepted_shares(api: Api, admin: Api, batch: str) -> None:
    other = api.as_project(uuid.uuid4().hex)
    api.create(name="mine-private", visibility="private", batch=batch)
    api.create(name="mine-community", visibility="community", batch=batch)
    admin.create(name="public", visibility="public", batch=batch)
    other.create(name="their-community", visibility="community", batch=batch)
    other.create(name="their-private", visibility="private", batch=batch)
    pending = other.create(name="shared-pending", batch=batch)
    accepted = other.create(name="shared-accepted", batch=batch)
    rejected = other.create(name="shared-rejected", batch=batch)
    for image, status in ((pending, None), (accepted, "accepted"), (rejected, "rejected")):
        assert other.http.post(f"/v2/images/{image['id']}/members", json={"member": api.project}).status_code == 200
        if status:
            response = api.http.put(f"/v2/images/{image['id']}/members/{api.project}", json={"status": status})
            assert response.status_code == 200
    assert sorted(names(api, batch=batch)) == ["mine-community", "mine-private", "public", "shared-accepted"]
    assert sorted(names(api, batch=batch, visibility="community")) == ["mine-community", "their-community"]
    assert sorted(names(api, batch=batch, visibility="shared")) == ["shared-accepted"]
    assert sorted(names(api, batch=batch, visibility="shared", member_status="pending")) == ["shared-pending"]
    assert sorted(names(api, batch=batch, visibility="shared", member_status="all")) == [
        "shared-accepted", "shared-pending", "shared-rejected"]
    assert sorted(names(api, batch=batch, visibility="all")) == [
        "mine-community", "mine-private", "public", "shared-accepted", "their-community"]
    assert names(api, batch=batch, visibility="private") == ["mine-private"]
    assert sorted(names(admin, batch=batch)) == [
        "mine-private", "public", "shared-accepted", "shared-pending", "shared-rejected", "their-private"]
    assert len(names(admin, batch=batch, visibility="all")) == 8


def test_hidden_images_only_with_os_hidden_true(api: Api, batch: str) -> None:
    api.create(name="seen", batch=batch)
    api.create(name="hidden", os_hidden=True, batch=batch)
    assert names(api, batch=batch) == ["seen"]
    assert names(api, batch=batch, os_hidden="true") == ["hidden"]
    assert names(api, batch=batch, os_hidden="True") == ["hidden"]
    assert names(api, batch=batch, os_hidden="false") == ["seen"]


def test_deleted_images_are_not_listed(api: Api, batch: str) -> None:
    image = api.create(name="gone", batch=batch)
    api.http.delete(f"/v2/images/{image['id']}")
    assert names(api, batch=batch) == []


def test_exact_and_in_filters(api: Api, batch: str) -> None:
    a = api.create(name="alpha", batch=batch, disk_format="qcow2", container_format="bare", min_ram=128)
    api.create(name="beta", batch=batch, disk_format="raw", container_format="ovf")
    api.create(name="gamma,delta", batch=batch, disk_format="iso")
    assert names(api, batch=batch, name="alpha") == ["alpha"]
    assert names(api, batch=batch, name="eq:alpha") == ["alpha"]
    assert sorted(names(api, batch=batch, name="in:alpha,beta")) == ["alpha", "beta"]
    assert sorted(names(api, batch=batch, name='in:"gamma,delta",alpha')) == ["alpha", "gamma,delta"]
    assert names(api, batch=batch, disk_format="qcow2") == ["alpha"]
    assert sorted(names(api, batch=batch, disk_format="in:raw,iso")) == ["beta", "gamma,delta"]
    assert names(api, batch=batch, container_format="ovf") == ["beta"]
    assert names(api, batch=batch, id=a["id"]) == ["alpha"]
    assert names(api, batch=batch, min_ram="128") == ["alpha"]
    assert names(api, batch=batch, status="queued", name="alpha") == ["alpha"]
    assert names(api, batch=batch, status="active") == []
    assert names(api, batch=batch, owner=api.project, name="beta") == ["beta"]
    assert names(api, batch=batch, owner="nobody") == []


def test_tag_filter_requires_every_tag(api: Api, batch: str) -> None:
    api.create(name="both", tags=["x", "y"], batch=batch)
    api.create(name="x-only", tags=["x"], batch=batch)
    response = api.http.get("/v2/images", params=[("batch", batch), ("tag", "x"), ("tag", "y")])
    assert [i["name"] for i in response.json()["images"]] == ["both"]
    assert sorted(names(api, batch=batch, tag="x")) == ["both", "x-only"]


def test_custom_property_filter(api: Api, batch: str) -> None:
    api.create(name="u", os_distro="ubuntu", batch=batch)
    api.create(name="d", os_distro="debian", batch=batch)
    assert names(api, batch=batch, os_distro="ubuntu") == ["u"]


def test_size_protected_checksum_and_hash_filters(api: Api, batch: str) -> None:
    small = api.create(name="small", batch=batch)
    big = api.create(name="big", batch=batch, protected=True)
    api.upload(small["id"], b"a" * 10)
    api.upload(big["id"], b"b" * 1000)
    assert names(api, batch=batch, size_min="11") == ["big"]
    assert names(api, batch=batch, size_max="10") == ["small"]
    assert sorted(names(api, batch=batch, size_min="10", size_max="1000")) == ["big", "small"]
    assert names(api, batch=batch, protected="true") == ["big"]
    assert names(api, batch=batch, protected="false") == ["small"]
    shown = api.show(small["id"])
    assert names(api, batch=batch, checksum=shown["checksum"]) == ["small"]
    assert names(api, batch=batch, os_hash_value=shown["os_hash_value"]) == ["small"]


def test_time_filters(api: Api, batch: str) -> None:
    first = api.create(name="first", batch=batch)
    time.sleep(1.1)
    second = api.create(name="second", batch=batch)
    t1, t2 = first["created_at"], second["created_at"]
    assert names(api, batch=batch, created_at=f"gt:{t1}") == ["second"]
    assert sorted(names(api, batch=batch, created_at=f"gte:{t1}")) == ["first", "second"]
    assert names(api, batch=batch, created_at=f"lt:{t2}") == ["first"]
    assert sorted(names(api, batch=batch, created_at=f"lte:{t2}")) == ["first", "second"]
    assert names(api, batch=batch, created_at=f"eq:{t1}") == ["first"]
    assert names(api, batch=batch, created_at=t2) == ["second"]
    assert names(api, batch=batch, created_at=f"neq:{t1}") == ["second"]
    assert names(api, batch=batch, updated_at=f"gte:{t2}") == ["second"]


@pytest.mark.parametrize("params", [
    {"limit": "x"}, {"limit": "-1"}, {"size_min": "big"}, {"size_max": "-3"}, {"protected": "maybe"},
    {"os_hidden": "yes"}, {"visibility": "everyone"}, {"member_status": "maybe"},
    {"created_at": "gt:yesterday"}, {"created_at": "near:2020-01-01T00:00:00Z"}, {"updated_at": "not a date"},
    {"sort_key": "owner"}, {"sort_dir": "sideways"}, {"sort": "name:up"}, {"sort": "bogus:asc"},
    {"sort": "name", "sort_key": "name"}, {"changes-since": "2020-01-01"}, {"min_ram": "lots"},
    {"marker": str(uuid.uuid4())}, {"marker": "not-a-uuid"}, {"name": 'in:"unterminated'},
])
def test_bad_query_parameters_are_400(api: Api, params: dict[str, str]) -> None:
    response = api.http.get("/v2/images", params=params)
    assert response.status_code == 400, (params, response.text)
    assert response.json()["message"]


def test_mismatched_sort_dirs_are_400(api: Api) -> None:
    params = [("sort_key", "name"), ("sort_key", "size"), ("sort_key", "id"),
              ("sort_dir", "asc"), ("sort_dir", "desc")]
    assert api.http.get("/v2/images", params=params).status_code == 400


def test_marker_invisible_to_caller_is_400(api: Api) -> None:
    image = api.create(visibility="private")
    other = api.as_project(uuid.uuid4().hex)
    assert other.http.get("/v2/images", params={"marker": image["id"]}).status_code == 400


def test_sorting(api: Api, batch: str) -> None:
    for name, size in (("b", 30), ("a", 10), ("c", 20)):
        image = api.create(name=name, batch=batch)
        api.upload(image["id"], b"x" * size)
    api.create(name=None, batch=batch)
    assert names(api, batch=batch, sort_key="name", sort_dir="asc") == [None, "a", "b", "c"]
    assert names(api, batch=batch, sort_key="name", sort_dir="desc") == ["c", "b", "a", None]
    assert names(api, batch=batch, sort="size:asc") == [None, "a", "c", "b"]
    assert names(api, batch=batch, sort="size") == ["b", "c", "a", None]
    assert names(api, batch=batch, sort="status:asc,name:asc") == ["a", "b", "c", None]
    response = api.http.get("/v2/images", params=[("batch", batch), ("sort_key", "status"), ("sort_key", "name"),
                                                   ("sort_dir", "asc"), ("sort_dir", "desc")])
    assert [i["name"] for i in response.json()["images"]] == ["c", "b", "a", None]
    # default: newest first
    assert names(api, batch=batch)[0] is None


@pytest.mark.parametrize("sort", ["name:asc", "name:desc", "size:asc", "created_at:desc", "status:asc,size:desc"])
def test_pagination_visits_every_image_once(api: Api, batch: str, sort: str) -> None:
    created = set()
    for i in range(11):
        image = api.create(name=f"n{i % 4}" if i % 5 else None, batch=batch)
        if i % 3 == 0:
            api.upload(image["id"], b"z" * (i % 2 + 1))
        created.add(image["id"])
    seen: list[str] = []
    url: str | None = f"/v2/images?batch={batch}&limit=3&sort={sort}"
    pages = 0
    while url:
        response = api.http.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["first"].startswith("/v2/images?") and "marker" not in body["first"]
        seen.extend(i["id"] for i in body["images"])
        url = body.get("next")
        if url:
            assert url.startswith("/v2/images?") and "marker=" in url and "batch=" in url
        pages += 1
        assert pages < 10
    assert len(seen) == len(set(seen)) == 11
    assert set(seen) == created
    assert pages == 4  # 3+3+3+2: the short last page carries no "next"


def test_next_is_present_on_a_full_last_page(api: Api, batch: str) -> None:
    for _ in range(2):
        api.create(batch=batch)
    body = listing(api, batch=batch, limit=2)
    assert "next" in body
    follow = api.http.get(body["next"]).json()
    assert follow["images"] == [] and "next" not in follow


def test_limit_is_capped_and_defaulted(api: Api, batch: str) -> None:
    for _ in range(27):
        api.create(batch=batch)
    assert len(listing(api, batch=batch)["images"]) == 25
    assert len(listing(api, batch=batch, limit=100000)["images"]) == 27
    assert listing(api, batch=batch, limit=0)["images"] == []


def test_listed_images_are_byte_for_byte_their_shown_bodies(api: Api, batch: str) -> None:
    import json

    other = api.as_project(uuid.uuid4().hex)
    for i in range(3):
        image = api.create(name=f"é-{i}", batch=batch, tags=["t", f"n{i}"], visibility="community")
        assert api.patch(image["id"], [{"op": "add", "path": "/nullish", "value": "x ✓"}]).status_code == 200
    for caller in (api, other, api):  # the owner, someone else, the owner again (cached by now)
        response = caller.http.get("/v2/images", params={"batch": batch, "limit": 2, "visibility": "community"})
        page = response.json()
        assert response.content == json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
        assert len(page["images"]) == 2 and "next" in page
        for listed in page["images"]:
            shown = caller.http.get(f"/v2/images/{listed['id']}")
            assert shown.content == json.dumps(listed, ensure_ascii=False, separators=(",", ":")).encode()
