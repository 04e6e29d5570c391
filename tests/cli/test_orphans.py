"""``glimpse-manage orphans``: store objects no image refers to, listed and (with ``--delete``) removed."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.conftest import Api, manage, start_server


def test_orphans_are_listed_then_removed_and_image_data_is_left_alone(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node")
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image = api.create(disk_format="raw", container_format="bare")
        assert api.upload(image["id"], b"kept").status_code == 204
        staged = api.create(disk_format="raw", container_format="bare")
        assert api.http.put(f"/v2/images/{staged['id']}/stage", content=b"staged",
                            headers={"Content-Type": "application/octet-stream"}).status_code == 204
        stray = server.data_dir / "images" / "left-behind"
        stray.write_bytes(b"nobody's")
        listed = manage("orphans", server=server)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines() == ["store file: orphan left-behind"]
        assert stray.exists()
        removed = manage("orphans", "--delete", server=server)
        assert removed.stdout.splitlines() == ["store file: removed orphan left-behind"]
        assert not stray.exists()
        assert (server.data_dir / "images" / image["id"]).read_bytes() == b"kept"
        assert (server.data_dir / "staging" / staged["id"]).read_bytes() == b"staged"
        assert manage("orphans", server=server).stdout.strip() == "no orphans"
    finally:
        server.stop()
