"""Who may do what to which image: the full matrix, over HTTP and through the internal Python API.

Projects: A owns the images, B is a member of A's shared image (accepted), C is a stranger.
Each project is seen with the member role (``A``, ``B``, ``C``) and with only the reader role
(``A-reader``, ``B-reader``); ``admin`` has the admin role in a fourth project.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from glimpse import errors
from glimpse.context import RequestContext
from glimpse.domain.patch import parse_patch
from glimpse.domain.queries import parse_image_query
from glimpse.composition import open_services
from glimpse.services import Services
from glimpse.settings import Settings
from tests.conftest import Api, Server

KINDS = ("private", "shared", "community", "public")
ACTORS = ("A", "A-reader", "B", "B-reader", "C", "admin")
OK, FORBIDDEN, MISSING = "ok", "forbidden", "missing"


def row(**by_actor: str) -> dict[str, str]:
    return {actor.replace("_", "-"): outcome for actor, outcome in by_actor.items()}


#: kind -> actor -> outcome
SHOW = {
    "private": row(A=OK, A_reader=OK, B=MISSING, B_reader=MISSING, C=MISSING, admin=OK),
    "shared": row(A=OK, A_reader=OK, B=OK, B_reader=OK, C=MISSING, admin=OK),
    "community": row(A=OK, A_reader=OK, B=OK, B_reader=OK, C=OK, admin=OK),
    "public": row(A=OK, A_reader=OK, B=OK, B_reader=OK, C=OK, admin=OK),
}
DOWNLOAD = {
    "private": row(A=OK, A_reader=FORBIDDEN, B=MISSING, B_reader=MISSING, C=MISSING, admin=OK),
    "shared": row(A=OK, A_reader=FORBIDDEN, B=OK, B_reader=FORBIDDEN, C=MISSING, admin=OK),
    "community": row(A=OK, A_reader=FORBIDDEN, B=OK, B_reader=FORBIDDEN, C=OK, admin=OK),
    "public": row(A=OK, A_reader=FORBIDDEN, B=OK, B_reader=FORBIDDEN, C=OK, admin=OK),
}
MODIFY = {  # update and delete
    "private": row(A=OK, A_reader=FORBIDDEN, B=MISSING, B_reader=MISSING, C=MISSING, admin=OK),
    "shared": row(A=OK, A_reader=FORBIDDEN, B=FORBIDDEN, B_reader=FORBIDDEN, C=MISSING, admin=OK),
    "community": row(A=OK, A_reader=FORBIDDEN, B=FORBIDDEN, B_reader=FORBIDDEN, C=FORBIDDEN, admin=OK),
    "public": row(A=OK, A_reader=FORBIDDEN, B=FORBIDDEN, B_reader=FORBIDDEN, C=FORBIDDEN, admin=OK),
}
LISTED = {  # in the default list
    "private": {"A", "A-reader", "admin"},
    "shared": {"A", "A-reader", "B", "B-reader", "admin"},
    "community": {"A", "A-reader"},
    "public": set(ACTORS),
}
SHARE = row(A=OK, A_reader=FORBIDDEN, B=FORBIDDEN, B_reader=FORBIDDEN, C=MISSING, admin=OK)
ACCEPT = row(A=FORBIDDEN, A_reader=FORBIDDEN, B=OK, B_reader=FORBIDDEN, C=MISSING, admin=OK)
PUBLICIZE = row(A=FORBIDDEN, A_reader=FORBIDDEN, admin=OK)
COMMUNITIZE = row(A=OK, A_reader=FORBIDDEN, admin=OK)


@dataclass
class World:
    projects: dict[str, str]

    def identity(self, actor: str) -> tuple[str, str]:
        project = self.projects[actor.split("-")[0]]
        roles = "reader" if actor.endswith("reader") else "admin,member,reader" if actor == "admin" \
            else "member,reader"
        return project, roles


@pytest.fixture
def world() -> World:
    return World({name: uuid.uuid4().hex for name in ("A", "B", "C", "admin")})


# -- the two transports behind one small interface ------------------------------------------------


class HttpActor:
    STATUS = {200: OK, 204: OK, 403: FORBIDDEN, 404: MISSING}

    def __init__(self, server: Server, project: str, roles: str) -> None:
        self.api = Api(server.url, project, roles)

    def _outcome(self, status: int) -> str:
        return self.STATUS.get(status, f"HTTP {status}")

    def create(self, **fields: Any) -> str:
        return str(self.api.create(**fields)["id"])

    def upload(self, image_id: str) -> None:
        assert self.api.upload(image_id, b"data").status_code == 204

    def show(self, image_id: str) -> str:
        return self._outcome(self.api.http.get(f"/v2/images/{image_id}").status_code)

    def download(self, image_id: str) -> str:
        return self._outcome(self.api.http.get(f"/v2/images/{image_id}/file").status_code)

    def update(self, image_id: str, path: str = "/name", value: Any = "changed") -> str:
        return self._outcome(self.api.patch(image_id, [{"op": "replace", "path": path, "value": value}]).status_code)

    def delete(self, image_id: str) -> str:
        return self._outcome(self.api.http.delete(f"/v2/images/{image_id}").status_code)

    def share(self, image_id: str, member: str) -> str:
        return self._outcome(self.api.http.post(f"/v2/images/{image_id}/members", json={"member": member}).status_code)

    def accept(self, image_id: str, member: str) -> str:
        response = self.api.http.put(f"/v2/images/{image_id}/members/{member}", json={"status": "accepted"})
        return self._outcome(response.status_code)

    def listed(self, batch: str) -> set[str]:
        response = self.api.http.get("/v2/images", params={"batch": batch})
        assert response.status_code == 200, response.text
        return {image["id"] for image in response.json()["images"]}


class PythonActor:
    def __init__(self, services: Services, project: str, roles: str) -> None:
        self.services = services
        self.ctx = RequestContext.for_project(project, roles=set(roles.split(",")))

    def _outcome(self, call: Callable[[], object]) -> str:
        try:
            call()
        except errors.Forbidden:
            return FORBIDDEN
        except errors.NotFound:
            return MISSING
        return OK

    def create(self, **fields: Any) -> str:
        fields.setdefault("disk_format", "raw")
        fields.setdefault("container_format", "bare")
        return self.services.images.create(self.ctx, fields).id

    def upload(self, image_id: str) -> None:
        self.services.image_data.upload(self.ctx, image_id, [b"data"])

    def show(self, image_id: str) -> str:
        return self._outcome(lambda: self.services.images.get(self.ctx, image_id))

    def download(self, image_id: str) -> str:
        def read() -> None:
            self.services.image_data.open_download(self.ctx, image_id).close()
        return self._outcome(read)

    def update(self, image_id: str, path: str = "/name", value: Any = "changed") -> str:
        patch = parse_patch([{"op": "replace", "path": path, "value": value}])
        return self._outcome(lambda: self.services.images.update(self.ctx, image_id, patch))

    def delete(self, image_id: str) -> str:
        return self._outcome(lambda: self.services.images.delete(self.ctx, image_id))

    def share(self, image_id: str, member: str) -> str:
        return self._outcome(lambda: self.services.members.add(self.ctx, image_id, member))

    def accept(self, image_id: str, member: str) -> str:
        return self._outcome(lambda: self.services.members.update(self.ctx, image_id, member, "accepted"))

    def listed(self, batch: str) -> set[str]:
        query = parse_image_query([("batch", batch)], default_limit=100, max_limit=100)
        return {image.id for image in self.services.images.list(self.ctx, query).images}


@pytest.fixture(params=["http", "python"])
def actors(request: pytest.FixtureRequest, world: World, server: Server, database_url: str,
           tmp_path: Path) -> Iterator[dict[str, Any]]:
    if request.param == "http":
        yield {actor: HttpActor(server, *world.identity(actor)) for actor in ACTORS}
        return
    services = open_services(Settings(data_dir=tmp_path, database_url=database_url))
    try:
        yield {actor: PythonActor(services, *world.identity(actor)) for actor in ACTORS}
    finally:
        services.close()


def make_images(actors: dict[str, Any], world: World, batch: str) -> dict[str, str]:
    """One image of each kind, owned by A, with data; B is an accepted member of the shared one."""
    owner, admin = actors["A"], actors["admin"]
    images = {kind: owner.create(visibility=kind, batch=batch) for kind in ("private", "shared", "community")}
    images["public"] = admin.create(visibility="public", owner=world.projects["A"], batch=batch)
    for image_id in images.values():
        owner.upload(image_id)
    assert owner.share(images["shared"], world.projects["B"]) == OK
    assert actors["B"].accept(images["shared"], world.projects["B"]) == OK
    return images


def mismatches(expected: dict[str, dict[str, str]], check: Callable[[str, str], str]) -> list[str]:
    wrong = []
    for kind, by_actor in expected.items():
        for actor, outcome in by_actor.items():
            got = check(kind, actor)
            if got != outcome:
                wrong.append(f"{actor} on {kind}: expected {outcome}, got {got}")
    return wrong


def test_who_can_see_and_download(actors: dict[str, Any], world: World) -> None:
    images = make_images(actors, world, batch := uuid.uuid4().hex)
    wrong = mismatches(SHOW, lambda kind, actor: actors[actor].show(images[kind]))
    wrong += mismatches(DOWNLOAD, lambda kind, actor: actors[actor].download(images[kind]))
    for actor in ACTORS:
        listed = actors[actor].listed(batch)
        expected = {images[kind] for kind in KINDS if actor in LISTED[kind]}
        if listed != expected:
            wrong.append(f"{actor} lists {sorted(k for k in KINDS if images[k] in listed)}, "
                         f"expected {sorted(k for k in KINDS if actor in LISTED[k])}")
    assert wrong == []


def test_who_can_update(actors: dict[str, Any], world: World) -> None:
    images = make_images(actors, world, uuid.uuid4().hex)
    assert mismatches(MODIFY, lambda kind, actor: actors[actor].update(images[kind])) == []


def test_who_can_delete(actors: dict[str, Any], world: World) -> None:
    def delete(kind: str, actor: str) -> str:
        image = make_images(actors, world, uuid.uuid4().hex)[kind]
        return str(actors[actor].delete(image))

    assert mismatches(MODIFY, delete) == []


def test_who_can_share_accept_publicize(actors: dict[str, Any], world: World) -> None:
    images = make_images(actors, world, uuid.uuid4().hex)
    wrong = mismatches({"shared": SHARE},
                       lambda kind, actor: actors[actor].share(images[kind], uuid.uuid4().hex))
    for actor in ("A", "B", "C"):  # members exist only on shared images: 403, or 404 when invisible
        expected = MISSING if actor != "A" else FORBIDDEN
        got = actors[actor].share(images["private"], uuid.uuid4().hex)
        if got != expected:
            wrong.append(f"{actor} sharing a private image: expected {expected}, got {got}")

    def accept(_kind: str, actor: str) -> str:
        image = actors["A"].create(visibility="shared")
        actors["A"].share(image, world.projects["B"])
        return str(actors[actor].accept(image, world.projects["B"]))

    wrong += mismatches({"shared": ACCEPT}, accept)
    wrong += mismatches({"private": PUBLICIZE},
                        lambda kind, actor: actors[actor].update(actors["A"].create(visibility=kind),
                                                                 "/visibility", "public"))
    wrong += mismatches({"private": COMMUNITIZE},
                        lambda kind, actor: actors[actor].update(actors["A"].create(visibility=kind),
                                                                 "/visibility", "community"))
    assert wrong == []
