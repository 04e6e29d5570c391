"""Notifications reach RabbitMQ in oslo.messaging's format, once per change, in order, across outages."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from tests.amqp.conftest import Consumer, Received, outbox_unsent, rabbitmqctl, wait_for_event, wait_until_sent
from tests.conftest import Api, Server, start_server

IMAGE_PAYLOAD_KEYS = {"id", "name", "status", "created_at", "updated_at", "min_disk", "min_ram", "protected",
                      "checksum", "owner", "disk_format", "container_format", "size", "virtual_size", "is_public",
                      "visibility", "properties", "tags", "deleted", "deleted_at"}


def _node(tmp: Path, name: str, database_url: str, consumer: Consumer) -> Server:
    return start_server(tmp / name, database_url=database_url,
                        env={"GLIMPSE_EXTENSIONS": '["notifications"]', **consumer.settings_env()})


def _unique(received: list[Received]) -> list[Received]:
    seen: set[str] = set()
    unique = []
    for item in received:
        if item.message["message_id"] not in seen:
            seen.add(item.message["message_id"])
            unique.append(item)
    return unique


def _by_image(received: list[Received]) -> dict[str, list[str]]:
    events: dict[str, list[str]] = defaultdict(list)
    for item in received:
        payload = item.message["payload"]
        image_id = payload.get("id") or payload.get("image_id") if isinstance(payload, dict) else None
        events[str(image_id)].append(item.message["event_type"])
    return events


def test_changes_are_published_as_oslo_notifications(consumer: Consumer, database_url: str,
                                                     tmp_path: Path) -> None:
    server = _node(tmp_path, "node", database_url, consumer)
    try:
        api = Api(server.url, uuid.uuid4().hex, user="alice")
        image = api.create(name="notified", visibility="shared", colour="blue")
        assert api.upload(image["id"], b"x" * 4096).status_code == 204
        assert api.http.get(f"/v2/images/{image['id']}/file").content == b"x" * 4096
        wait_for_event(database_url, "image.send", image["id"])  # recorded once the stream has ended
        assert api.http.put(f"/v2/images/{image['id']}/tags/t1").status_code == 204
        assert api.http.post(f"/v2/images/{image['id']}/members", json={"member": "friend"}).status_code == 200
        assert api.http.delete(f"/v2/images/{image['id']}/members/friend").status_code == 204
        assert api.http.delete(f"/v2/images/{image['id']}").status_code == 204
        api.close()
        wait_until_sent(database_url)
    finally:
        server.stop()

    received = consumer.drain()
    assert _by_image(received)[image["id"]] == [
        "image.create",
        "image.update", "image.prepare",  # queued -> saving
        "image.upload", "image.activate", "image.update",  # saving -> active
        "image.send",
        "image.update",  # tag
        "image.member.create", "image.member.delete",
        "image.delete",
    ]
    first = received[0]
    assert first.routing_key == f"{consumer.topic}.info"
    assert first.properties["content_type"] == "application/json"
    assert first.properties["delivery_mode"] == 2
    assert set(first.envelope) == {"oslo.version", "oslo.message"}
    assert first.envelope["oslo.version"] == "2.0"
    message = first.message
    assert {"message_id", "publisher_id", "event_type", "priority", "payload", "timestamp"} <= set(message)
    assert message["publisher_id"].startswith("image.")
    assert message["priority"] == "INFO"
    assert first.properties["message_id"] == message["message_id"]
    payload = message["payload"]
    assert set(payload) == IMAGE_PAYLOAD_KEYS
    assert payload["properties"] == {"colour": "blue"} and payload["is_public"] is False
    assert payload["deleted"] is False and payload["deleted_at"] is None
    assert payload["created_at"].endswith("Z") and "locations" not in payload

    by_type = {r.message["event_type"]: r.message for r in received}
    assert by_type["image.send"]["payload"] == {
        "bytes_sent": 4096, "image_id": image["id"], "owner_id": api.project,
        "receiver_tenant_id": api.project, "receiver_user_id": "alice"}
    assert by_type["image.prepare"]["payload"]["backend"] == "file"
    assert by_type["image.upload"]["payload"]["os_glance_importing_to_stores"] == []
    assert by_type["image.activate"]["payload"]["status"] == "active"
    assert by_type["image.activate"]["payload"]["checksum"] is not None
    assert by_type["image.delete"]["payload"]["deleted"] is True
    assert by_type["image.delete"]["payload"]["deleted_at"].endswith("Z")
    assert set(by_type["image.member.create"]["payload"]) == {
        "image_id", "member_id", "status", "created_at", "updated_at", "deleted", "deleted_at"}
    assert by_type["image.member.delete"]["payload"]["deleted"] is True


def test_a_failed_upload_is_an_error_notification_and_refused_changes_publish_nothing(
        consumer: Consumer, database_url: str, tmp_path: Path) -> None:
    server = _node(tmp_path, "node", database_url, consumer)
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image = api.create(name="failing")
        assert api.upload(image["id"], b"abc", **{"x-openstack-image-size": "10"}).status_code == 400
        assert api.patch(image["id"], [{"op": "replace", "path": "/status", "value": "active"}]).status_code == 403
        assert api.http.delete(f"/v2/images/{image['id']}/tags/absent").status_code == 404
        api.close()
        wait_until_sent(database_url)
    finally:
        server.stop()
    received = consumer.drain()
    # create; queued -> saving; back to queued (the ERROR image.upload carries only a message)
    assert _by_image(received)[image["id"]] == ["image.create", "image.update", "image.prepare", "image.update"]
    errors = [r for r in received if r.message["priority"] == "ERROR"]
    assert [r.message["event_type"] for r in errors] == ["image.upload"]
    assert errors[0].routing_key == f"{consumer.topic}.error"
    assert image["id"] in errors[0].message["payload"]
    updates = [r.message for r in received if r.message["event_type"] == "image.update"]
    assert updates[-1]["payload"]["status"] == "queued"


def test_a_broker_outage_delays_events_but_loses_none_with_two_relays(
        consumer: Consumer, database_url: str, tmp_path: Path) -> None:
    ctl = rabbitmqctl()
    nodes = [_node(tmp_path, "a", database_url, consumer), _node(tmp_path, "b", database_url, consumer)]
    clients = [Api(node.url, "outage") for node in nodes]
    images = [clients[0].create(name=f"outage-{i}")["id"] for i in range(4)]
    expected: dict[str, list[str]] = {image_id: ["image.create"] for image_id in images}
    failures: list[str] = []
    steps = 24

    def change_images() -> None:
        for step in range(steps):
            image_id = images[step % len(images)]
            client = clients[step % 2]  # both nodes, both relays
            response = client.patch(image_id, [{"op": "add", "path": f"/step_{step}", "value": str(step)}])
            if response.status_code != 200:
                failures.append(response.text)
            expected[image_id].append("image.update")
            time.sleep(0.15)

    writer = threading.Thread(target=change_images)
    try:
        writer.start()
        time.sleep(0.8)
        subprocess.run([ctl, "stop_app"], check=True, capture_output=True, timeout=120)
        try:
            time.sleep(1.5)
            assert outbox_unsent(database_url) > 0  # events wait while the broker is away
        finally:
            subprocess.run([ctl, "start_app"], check=True, capture_output=True, timeout=120)
        writer.join()
        for image_id in images:
            assert clients[1].http.delete(f"/v2/images/{image_id}").status_code == 204
            expected[image_id].append("image.delete")
        wait_until_sent(database_url)
    finally:
        writer.join()
        for client in clients:
            client.close()
        for node in nodes:
            node.stop()

    assert failures == []
    received = consumer.drain()
    unique = _unique(received)
    by_image = _by_image(unique)
    assert {image_id: by_image[image_id] for image_id in images} == expected
    # The updates of each image arrive in the order they were made.
    for image_id in images:
        steps_seen = [int(next(k for k in r.message["payload"]["properties"] if k.startswith("step_"))
                          .split("_")[1])
                      for r in unique
                      if r.message["event_type"] == "image.update" and r.message["payload"]["id"] == image_id
                      for _ in [0] if any(k.startswith("step_") for k in r.message["payload"]["properties"])]
        assert steps_seen == sorted(steps_seen)
