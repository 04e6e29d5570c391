"""``GET /v2/images/{id}`` and ``HEAD`` of it agree on status and headers; errors are the application's own."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import Api

_COMPARED = ("content-type", "content-length", "etag", "cache-control", "allow")


def _same_answer(api: Api, path: str, **headers: str) -> httpx.Response:
    got = api.http.get(path, headers=headers)
    head = api.http.head(path, headers=headers)
    assert got.status_code == head.status_code, (path, got.text)
    for name in _COMPARED:
        assert got.headers.get(name) == head.headers.get(name), (path, name)
    assert got.headers["x-openstack-request-id"].startswith("req-")
    return got


def test_an_image_is_shown_as_through_the_full_stack(api: Api) -> None:
    image = api.create(name="shortcut", tags=["a"], os_distro="ubuntu")
    shown = _same_answer(api, f"/v2/images/{image['id']}")
    assert shown.json() == {**image, "updated_at": shown.json()["updated_at"]}
    versioned = _same_answer(api, f"/v2.1/images/{image['id']}")
    assert versioned.content == shown.content
    assert _same_answer(api, f"/v2/images/{image['id']}", **{"If-None-Match": shown.headers["etag"]}) \
        .status_code == 304


@pytest.mark.parametrize("image_id", [pytest.param(str(uuid.uuid4()), id="a-new-uuid"), "not-an-id", "%20", "x" * 300])
def test_an_unknown_image_gets_the_applications_404(api: Api, image_id: str) -> None:
    missing = _same_answer(api, f"/v2/images/{image_id}")
    assert missing.status_code == 404
    assert missing.json()["message"].startswith("No image found with ID")
    assert missing.json()["request_id"] == missing.headers["x-openstack-request-id"]


def test_errors_follow_the_negotiated_body_format(api: Api) -> None:
    path = f"/v2/images/{uuid.uuid4()}"
    html = _same_answer(api, path, Accept="text/html")
    assert html.status_code == 404 and html.text.startswith("<html>")
    text = _same_answer(api, path, Accept="text/plain")
    assert text.text.startswith("404 Not Found\n\n")


def test_another_projects_private_image_is_not_found(api: Api) -> None:
    image = api.create(name="mine", visibility="private")
    stranger = api.as_project(uuid.uuid4().hex)
    try:
        assert _same_answer(stranger, f"/v2/images/{image['id']}").status_code == 404
    finally:
        stranger.close()


def test_a_body_on_a_show_is_refused(api: Api) -> None:
    image = api.create(name="with-body")
    refused = api.http.request("GET", f"/v2/images/{image['id']}", content=b"{}",
                               headers={"Content-Type": "application/json"})
    assert refused.status_code == 400
    assert refused.json()["message"] == "A body is not expected with this request."


def test_paths_below_an_image_are_not_taken_for_it(api: Api) -> None:
    image = api.create(name="below")
    members = api.http.get(f"/v2/images/{image['id']}/members")
    assert members.status_code == 200 and members.json()["members"] == []
    assert api.http.get(f"/v2/images/{image['id']}/").status_code in (307, 404)
    assert api.http.get("/v2/images/").status_code in (200, 307, 404)
