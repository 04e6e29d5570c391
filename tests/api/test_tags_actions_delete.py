"""Tags, deactivate/reactivate and delete."""

from __future__ import annotations

import uuid

from tests.conftest import Api


def test_add_and_remove_tags(api: Api) -> None:
    image = api.create()
    assert api.http.put(f"/v2/images/{image['id']}/tags/blue").status_code == 204
    assert api.http.put(f"/v2/images/{image['id']}/tags/blue").status_code == 204
    assert api.http.put(f"/v2/images/{image['id']}/tags/with%20space").status_code == 204
    assert sorted(api.show(image["id"])["tags"]) == ["blue", "with space"]
    assert api.http.delete(f"/v2/images/{image['id']}/tags/blue").status_code == 204
    assert api.show(image["id"])["tags"] == ["with space"]
    response = api.http.delete(f"/v2/images/{image['id']}/tags/blue")
    assert response.status_code == 404
    assert "blue" in response.json()["message"]


def test_tag_path_has_no_get(api: Api) -> None:
    image = api.create()
    response = api.http.get(f"/v2/images/{image['id']}/tags/x")
    assert response.status_code == 405
    assert response.headers["allow"] == "PUT, DELETE"


def test_overlong_tag_is_400(api: Api) -> None:
    image = api.create()
    assert api.http.put(f"/v2/images/{image['id']}/tags/{'t' * 256}").status_code == 400


def test_tag_quota_is_413(api: Api) -> None:
    image = api.create(tags=[f"t{i}" for i in range(128)])
    assert api.http.put(f"/v2/images/{image['id']}/tags/extra").status_code == 413
    assert api.http.put(f"/v2/images/{image['id']}/tags/t1").status_code == 204


def test_others_cannot_tag(api: Api) -> None:
    image = api.create(visibility="community")
    other = api.as_project(uuid.uuid4().hex)
    assert other.http.put(f"/v2/images/{image['id']}/tags/x").status_code == 403
    private = api.create(visibility="private")
    assert other.http.put(f"/v2/images/{private['id']}/tags/x").status_code == 404


def test_deactivate_and_reactivate(api: Api) -> None:
    image = api.create()
    api.upload(image["id"], b"data")
    base = f"/v2/images/{image['id']}/actions"
    assert api.http.post(f"{base}/deactivate").status_code == 204
    assert api.show(image["id"])["status"] == "deactivated"
    assert api.http.post(f"{base}/deactivate").status_code == 204
    assert api.http.post(f"{base}/reactivate").status_code == 204
    assert api.show(image["id"])["status"] == "active"
    assert api.http.post(f"{base}/reactivate").status_code == 204


def test_deactivating_a_queued_image_is_403(api: Api) -> None:
    image = api.create()
    response = api.http.post(f"/v2/images/{image['id']}/actions/deactivate")
    assert response.status_code == 403
    assert "queued" in response.json()["message"]
    assert api.http.post(f"/v2/images/{image['id']}/actions/reactivate").status_code == 403


def test_actions_need_post(api: Api) -> None:
    image = api.create()
    response = api.http.get(f"/v2/images/{image['id']}/actions/deactivate")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_unknown_action_is_404(api: Api) -> None:
    image = api.create()
    assert api.http.post(f"/v2/images/{image['id']}/actions/explode").status_code == 404


def test_delete_answers_204_and_image_is_gone(api: Api) -> None:
    image = api.create()
    response = api.http.delete(f"/v2/images/{image['id']}")
    assert response.status_code == 204 and response.content == b""
    assert api.http.get(f"/v2/images/{image['id']}").status_code == 404
    assert api.http.delete(f"/v2/images/{image['id']}").status_code == 404
    assert api.patch(image["id"], []).status_code == 404


def test_protected_image_cannot_be_deleted(api: Api) -> None:
    image = api.create(protected=True)
    response = api.http.delete(f"/v2/images/{image['id']}")
    assert response.status_code == 403
    assert "protected" in response.json()["message"]
    api.patch(image["id"], [{"op": "replace", "path": "/protected", "value": False}])
    assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204


def test_delete_works_from_every_live_status(api: Api) -> None:
    queued = api.create()
    active = api.create()
    api.upload(active["id"], b"x")
    deactivated = api.create()
    api.upload(deactivated["id"], b"x")
    api.http.post(f"/v2/images/{deactivated['id']}/actions/deactivate")
    for image in (queued, active, deactivated):
        assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204


def test_admin_can_delete_any_image(api: Api, admin: Api) -> None:
    image = api.create(visibility="private")
    assert admin.http.delete(f"/v2/images/{image['id']}").status_code == 204
