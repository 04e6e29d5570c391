"""32 concurrent writers against a two-worker server on the SQLite default: no request fails."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from tests.conftest import Api, start_server

WRITERS = 32
ROUNDS = 4


def test_thirty_two_concurrent_writers_on_sqlite_get_no_errors(tmp_path: Path) -> None:
    server = start_server(tmp_path / "writers", workers=2)  # no database URL: the SQLite default
    failures: list[str] = []
    project = uuid.uuid4().hex
    owner = Api(server.url, project)
    try:
        shared = owner.create(name="shared")
        start = threading.Barrier(WRITERS)

        def writer(n: int) -> None:
            api = Api(server.url, project)
            try:
                start.wait()
                for round_ in range(ROUNDS):
                    created = api.http.post("/v2/images", json={"name": f"w{n}-{round_}", "disk_format": "raw",
                                                                "container_format": "bare"})
                    if created.status_code != 201:
                        failures.append(f"create {created.status_code} {created.text}")
                        continue
                    image_id = created.json()["id"]
                    steps = [
                        api.patch(image_id, [{"op": "add", "path": "/writer", "value": str(n)}]),
                        api.http.put(f"/v2/images/{shared['id']}/tags/w{n}-{round_}"),  # everyone on one image
                        api.upload(image_id, b"data of writer %d" % n),
                        api.patch(shared["id"], [{"op": "add", "path": f"/p{n}", "value": str(round_)}]),
                        api.http.delete(f"/v2/images/{image_id}"),
                    ]
                    failures.extend(f"{r.request.method} {r.request.url.path} {r.status_code} {r.text}"
                                    for r in steps if r.status_code >= 300)
            finally:
                api.close()

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        final = owner.show(shared["id"])
        assert len(final["tags"]) == WRITERS * ROUNDS
        assert all(final[f"p{n}"] == str(ROUNDS - 1) for n in range(WRITERS))
    finally:
        owner.close()
        server.stop()
