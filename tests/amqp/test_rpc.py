"""The internal API over AMQP request/reply: same rules, same errors as over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from glimpse import errors
from glimpse.rpc.client import ImageRpcClient
from tests.conftest import Api, Server, start_server


@pytest.fixture(scope="module")
def rpc_queue() -> str:
    return f"glimpse-test-rpc-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def rpc_server(amqp_url: str, rpc_queue: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("rpc"), env={
        "GLIMPSE_EXTENSIONS": '["rpc"]', "GLIMPSE_AMQP_URL": amqp_url, "GLIMPSE_RPC_QUEUE": rpc_queue})
    yield server
    server.stop()
    asyncio.run(_delete_queue(amqp_url, rpc_queue))


async def _delete_queue(url: str, name: str) -> None:
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await channel.queue_delete(name)
    await connection.close()


def run(amqp_url: str, rpc_queue: str, calls: Any, **identity: Any) -> Any:
    async def go() -> Any:
        async with ImageRpcClient(amqp_url, queue=rpc_queue, timeout=20, **identity) as client:
            return await calls(client)
    return asyncio.run(go())


def test_images_can_be_created_read_updated_and_deleted_over_rpc(
        amqp_url: str, rpc_queue: str, rpc_server: Server) -> None:
    project = uuid.uuid4().hex

    async def calls(client: ImageRpcClient) -> Any:
        created = await client.create_image({"name": "over-amqp", "disk_format": "raw",
                                             "container_format": "bare", "colour": "red"})
        fetched = await client.get_image(created["id"])
        page = await client.list_images(name="over-amqp")
        updated = await client.update_image(created["id"], [{"op": "replace", "path": "/name", "value": "renamed"}])
        tagged = await client.add_tag(created["id"], "blue")
        await client.delete_image(created["id"])
        return created, fetched, page, updated, tagged

    created, fetched, page, updated, tagged = run(amqp_url, rpc_queue, calls, project_id=project)
    assert created["status"] == "queued" and created["owner"] == project
    assert created["properties"] == {"colour": "red"} and "locations" not in created
    assert fetched == created
    assert [image["id"] for image in page["images"]] == [created["id"]]
    assert updated["name"] == "renamed"
    assert tagged["tags"] == ["blue"]
    # The same database serves HTTP: the image is gone there too.
    assert Api(rpc_server.url, project).http.get(f"/v2/images/{created['id']}").status_code == 404


def test_domain_errors_cross_the_bus_as_the_same_classes_and_messages(
        amqp_url: str, rpc_queue: str, rpc_server: Server) -> None:
    missing = str(uuid.uuid4())
    http = Api(rpc_server.url, "someone")

    async def get_missing(client: ImageRpcClient) -> Any:
        return await client.get_image(missing)

    with pytest.raises(errors.ImageNotFound) as caught:
        run(amqp_url, rpc_queue, get_missing, project_id="someone")
    assert caught.value.message == http.http.get(f"/v2/images/{missing}").json()["message"]
    assert caught.value.image_id == missing

    async def bad_create(client: ImageRpcClient) -> Any:
        return await client.create_image({"name": "x", "disk_format": "floppy"})

    with pytest.raises(errors.SchemaViolation) as invalid:
        run(amqp_url, rpc_queue, bad_create, project_id="someone")
    over_http = http.http.post("/v2/images", json={"name": "x", "disk_format": "floppy"})
    assert over_http.status_code == 400 and invalid.value.message == over_http.json()["message"]

    async def unknown_method(client: ImageRpcClient) -> Any:
        return await client.call("images.explode")

    with pytest.raises(errors.InvalidRequest, match="Unknown RPC method"):
        run(amqp_url, rpc_queue, unknown_method)


def test_identity_rules_are_the_same_as_over_http(amqp_url: str, rpc_queue: str, rpc_server: Server) -> None:
    owner, stranger = uuid.uuid4().hex, uuid.uuid4().hex

    async def create(client: ImageRpcClient) -> Any:
        return await client.create_image({"name": "private-one", "visibility": "private"})

    image = run(amqp_url, rpc_queue, create, project_id=owner)

    async def read(client: ImageRpcClient) -> Any:
        return await client.get_image(image["id"])

    with pytest.raises(errors.ImageNotFound):
        run(amqp_url, rpc_queue, read, project_id=stranger)
    # A reader may look but not change.
    assert run(amqp_url, rpc_queue, read, project_id=owner, roles=["reader"])["id"] == image["id"]

    async def rename(client: ImageRpcClient) -> Any:
        return await client.update_image(image["id"], [{"op": "replace", "path": "/name", "value": "x"}])

    with pytest.raises(errors.Forbidden):
        run(amqp_url, rpc_queue, rename, project_id=owner, roles=["reader"])
    # No project: an unscoped administrator, as with no X-Project-Id header.
    assert run(amqp_url, rpc_queue, read)["owner"] == owner

    async def publicize(client: ImageRpcClient) -> Any:
        return await client.update_image(image["id"], [{"op": "replace", "path": "/visibility", "value": "public"}])

    with pytest.raises(errors.Forbidden, match="only administrators"):
        run(amqp_url, rpc_queue, publicize, project_id=owner)


def test_members_can_be_managed_over_rpc(amqp_url: str, rpc_queue: str, rpc_server: Server) -> None:
    owner, friend = uuid.uuid4().hex, uuid.uuid4().hex

    async def share(client: ImageRpcClient) -> Any:
        image = await client.create_image({"name": "shared-one", "visibility": "shared"})
        member = await client.add_member(image["id"], friend)
        return image, member

    image, member = run(amqp_url, rpc_queue, share, project_id=owner)
    assert member["status"] == "pending" and member["member_id"] == friend

    async def accept(client: ImageRpcClient) -> Any:
        return await client.update_member(image["id"], friend, "accepted")

    assert run(amqp_url, rpc_queue, accept, project_id=friend)["status"] == "accepted"
    with pytest.raises(errors.Forbidden):
        run(amqp_url, rpc_queue, accept, project_id=owner)

    async def listing(client: ImageRpcClient) -> Any:
        return await client.list_members(image["id"])

    assert [m["member_id"] for m in run(amqp_url, rpc_queue, listing, project_id=owner)] == [friend]


def test_without_a_broker_setting_the_rpc_extension_serves_nothing(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", env={"GLIMPSE_EXTENSIONS": '["rpc"]'})
    try:
        listing = Api(server.url).http.get("/v2/extensions").json()["extensions"]
        assert [e["alias"] for e in listing] == ["rpc"]
    finally:
        server.stop()
    assert "amqp_url is not set" in server.log.read_text()
