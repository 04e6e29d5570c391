"""Image members: sharing with other projects."""

from __future__ import annotations

import uuid

from tests.conftest import Api


def test_member_life_cycle(api: Api) -> None:
    image = api.create()
    guest = api.as_project(uuid.uuid4().hex)
    base = f"/v2/images/{image['id']}/members"
    response = api.http.post(base, json={"member": guest.project})
    assert response.status_code == 200
    member = response.json()
    assert member["member_id"] == guest.project and member["image_id"] == image["id"]
    assert member["status"] == "pending" and member["schema"] == "/v2/schemas/member"
    assert guest.http.get(f"/v2/images/{image['id']}").status_code == 200
    listing = api.http.get(base).json()
    assert [m["member_id"] for m in listing["members"]] == [guest.project]
    assert listing["schema"] == "/v2/schemas/members"
    response = guest.http.put(f"{base}/{guest.project}", json={"status": "accepted"})
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert guest.http.get(f"{base}/{guest.project}").json()["status"] == "accepted"
    assert api.http.delete(f"{base}/{guest.project}").status_code == 204
    assert guest.http.get(f"/v2/images/{image['id']}").status_code == 404
    assert api.http.get(f"{base}/{guest.project}").status_code == 404


def test_duplicate_member_is_409(api: Api) -> None:
    image = api.create()
    base = f"/v2/images/{image['id']}/members"
    assert api.http.post(base, json={"member": "p2"}).status_code == 200
    assert api.http.post(base, json={"member": "p2"}).status_code == 409


def test_members_only_on_shared_images(api: Api) -> None:
    image = api.create(visibility="private")
    base = f"/v2/images/{image['id']}/members"
    response = api.http.post(base, json={"member": "p2"})
    assert response.status_code == 403
    assert "shared" in response.json()["message"]
    assert api.http.get(base).status_code == 403


def test_missing_or_empty_member_is_400(api: Api) -> None:
    image = api.create()
    base = f"/v2/images/{image['id']}/members"
    assert api.http.post(base, json={}).status_code == 400
    assert api.http.post(base, json={"member": ""}).status_code == 400
    assert api.http.post(base, json={"member": 5}).status_code == 400


def test_only_the_owner_adds_and_removes_members(api: Api) -> None:
    image = api.create()
    guest = api.as_project(uuid.uuid4().hex)
    base = f"/v2/images/{image['id']}/members"
    api.http.post(base, json={"member": guest.project})
    assert guest.http.post(base, json={"member": "third"}).status_code == 403
    assert guest.http.delete(f"{base}/{guest.project}").status_code == 403


def test_only_the_member_changes_its_status(api: Api) -> None:
    image = api.create()
    guest = api.as_project(uuid.uuid4().hex)
    base = f"/v2/images/{image['id']}/members"
    api.http.post(base, json={"member": guest.project})
    assert api.http.put(f"{base}/{guest.project}", json={"status": "accepted"}).status_code == 403
    assert guest.http.put(f"{base}/{guest.project}", json={"status": "maybe"}).status_code == 400
    assert guest.http.put(f"{base}/{guest.project}", json={}).status_code == 400
    assert guest.http.put(f"{base}/{guest.project}", json={"status": "rejected"}).status_code == 200


def test_member_sees_only_its_own_entry(api: Api) -> None:
    image = api.create()
    guest = api.as_project(uuid.uuid4().hex)
    base = f"/v2/images/{image['id']}/members"
    api.http.post(base, json={"member": guest.project})
    api.http.post(base, json={"member": "someone-else"})
    assert len(api.http.get(base).json()["members"]) == 2
    assert [m["member_id"] for m in guest.http.get(base).json()["members"]] == [guest.project]
    assert guest.http.get(f"{base}/someone-else").status_code == 404


def test_member_quota_is_413(api: Api) -> None:
    image = api.create()
    base = f"/v2/images/{image['id']}/members"
    for i in range(128):
        assert api.http.post(base, json={"member": f"m{i}"}).status_code == 200
    assert api.http.post(base, json={"member": "one-too-many"}).status_code == 413


def test_strangers_get_404(api: Api) -> None:
    image = api.create()
    stranger = api.as_project(uuid.uuid4().hex)
    assert stranger.http.get(f"/v2/images/{image['id']}/members").status_code == 404
