"""``glimpse-api`` and ``glimpse-manage`` as an operator runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from tests.conftest import Api, free_port, start_server

MANAGE = [sys.executable, "-m", "glimpse.cli.manage"]
SERVE = [sys.executable, "-m", "glimpse.cli.serve"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    env.update(extra)
    return env


def run(command: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=clean_env(**extra))


def test_api_help_lists_the_options() -> None:
    result = run([*SERVE, "--help"])
    assert result.returncode == 0
    for option in ("--host", "--port", "--data-dir", "--config", "--database-url", "--log-level"):
        assert option in result.stdout


def test_config_file_sets_port_and_data_dir(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "from-config"
    config = tmp_path / "glimpse.toml"
    config.write_text(f'port = {port}\ndata_dir = "{data}"\nimage_size_cap = 1000\nlog_level = "warning"\n')
    process = subprocess.Popen([*SERVE, "--config", str(config)], env=clean_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthcheck").status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert (data / "glimpse.db").exists() and (data / "images").is_dir()
        api = Api(f"http://127.0.0.1:{port}", "p")
        image = api.create()
        assert api.upload(image["id"], b"x" * 1001).status_code == 413
    finally:
        process.terminate()
        process.wait(15)


def test_invalid_settings_fail_fast_with_a_message(tmp_path: Path) -> None:
    result = run([*SERVE, "--data-dir", str(tmp_path)], GLIMPSE_HASHING_ALGORITHM="nope")
    assert result.returncode != 0
    assert "hashing_algorithm" in result.stderr and "nope" in result.stderr
    result = run([*SERVE, "--config", str(tmp_path / "missing.toml")])
    assert result.returncode != 0 and "does not exist" in result.stderr
    result = run([*SERVE, "--data-dir", str(tmp_path)], GLIMPSE_DEFAULT_STORE="elsewhere")
    assert result.returncode != 0 and "default_store" in result.stderr


def test_serving_processes_do_not_load_alembic() -> None:
    # glimpse-api imports the application before forking its workers and migrates in a child process.
    result = run([sys.executable, "-c", "import sys, glimpse.cli.serve, glimpse.app; "
                                        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_api_migrates_the_database_before_serving_and_stops_when_it_cannot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    server = start_server(tmp_path / "data", database_url=url)
    try:
        assert run([*MANAGE, "--database-url", url, "db", "check"]).returncode == 0
    finally:
        server.stop()
    (tmp_path / "a-file").write_text("")
    result = run([*SERVE, "--data-dir", str(tmp_path), "--database-url", f"sqlite:///{tmp_path}/a-file/x.db"])
    assert result.returncode != 0 and "migrating the database failed" in result.stderr


def test_manage_db_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    result = run([*MANAGE, "--database-url", url, "db", "check"])
    assert result.returncode == 1 and "db upgrade" in result.stdout
    result = run([*MANAGE, "--database-url", url, "db", "upgrade"])
    assert result.returncode == 0, result.stderr
    result = run([*MANAGE, "--database-url", url, "db", "check"])
    assert result.returncode == 0 and "current" in result.stdout
    result = run([*MANAGE, "--database-url", url, "db", "version"])
    assert result.stdout.splitlines()[0] == result.stdout.splitlines()[1].replace("code:    ", "database:")


def test_cleanup_recovers_from_a_crash_mid_upload(tmp_path: Path) -> None:
    data_dir = tmp_path / "crash"
    server = start_server(data_dir)
    api = Api(server.url, uuid.uuid4().hex)
    image = api.create()
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(f"PUT /v2/images/{image['id']}/file HTTP/1.1\r\nHost: x\r\nX-Project-Id: {api.project}\r\n"
                 "Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n".encode()
                 + b"x" * 3_000_000)
    deadline = time.monotonic() + 20
    while api.show(image["id"])["status"] != "saving":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    server.crash()
    sock.close()
    leftovers = [p.name for p in (data_dir / "images").iterdir()]
    assert leftovers and all(name.startswith(".incoming-") for name in leftovers)

    result = run([*MANAGE, "--data-dir", str(data_dir), "cleanup", "--stale-minutes", "0"])
    assert result.returncode == 0, result.stderr
    assert "returned 1 image(s)" in result.stdout
    assert list((data_dir / "images").iterdir()) == []

    server = start_server(data_dir)
    try:
        api = Api(server.url, api.project)
        assert api.show(image["id"])["status"] == "queued"
        assert api.upload(image["id"], b"after the crash").status_code == 204
    finally:
        server.stop()


def test_cleanup_leaves_the_data_a_later_upload_wrote_under_the_key_of_a_failed_one(tmp_path: Path) -> None:
    import datetime as dt

    import sqlalchemy as sa

    from glimpse.db.tables import image_locations

    data_dir = tmp_path / "node"
    server = start_server(data_dir)
    try:
        api = Api(server.url, uuid.uuid4().hex)
        image = api.create()
        # What an upload that failed, and could not remove what it wrote (its store not answering), leaves:
        # its record of the key, for cleanup. The image's next upload writes the same key.
        old = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=1)
        engine = sa.create_engine(f"sqlite:///{data_dir / 'glimpse.db'}")
        with engine.begin() as conn:
            conn.execute(image_locations.insert().values(
                image_id=image["id"], store="file", key=image["id"], url=f"file://{image['id']}", meta={},
                status="pending_delete", created_at=old, updated_at=old))
        engine.dispose()
        assert api.upload(image["id"], b"written after the failure").status_code == 204
    finally:
        server.stop()

    result = run([*MANAGE, "--data-dir", str(data_dir), "cleanup", "--stale-minutes", "0"])
    assert result.returncode == 0, result.stderr
    assert "removed data of 0 location(s)" in result.stdout, result.stdout
    server = start_server(data_dir)
    try:
        assert Api(server.url, api.project).http.get(f"/v2/images/{image['id']}/file").content \
            == b"written after the failure"
    finally:
        server.stop()


def test_metadefs_load_export_and_unload(tmp_path: Path) -> None:
    catalog = Path(__file__).resolve().parent.parent / "catalog"
    data = ["--data-dir", str(tmp_path / "data")]
    assert run([*MANAGE, *data, "db", "upgrade"]).returncode == 0
    loaded = run([*MANAGE, *data, "metadefs", "load", str(catalog)])
    assert loaded.returncode == 0, loaded.stderr
    assert "Glimpse::Test::CPUPinning: created" in loaded.stdout
    again = run([*MANAGE, *data, "metadefs", "load", str(catalog / "compute-watchdog.json")])
    assert again.stdout.strip() == "Glimpse::Test::Watchdog: skipped"
    merged = run([*MANAGE, *data, "metadefs", "load", "--merge", str(catalog / "compute-watchdog.json")])
    assert merged.stdout.strip() == "Glimpse::Test::Watchdog: merged"
    exported = run([*MANAGE, *data, "metadefs", "export", str(tmp_path / "out")])
    assert exported.returncode == 0, exported.stderr
    files = sorted(p.name for p in (tmp_path / "out").glob("*.json"))
    assert "Glimpse-Test-CPUPinning.json" in files and len(files) == len(list(catalog.glob("*.json")))
    unloaded = run([*MANAGE, *data, "metadefs", "unload"])
    assert unloaded.stdout.strip() == f"{len(files)} namespaces removed"
    reloaded = run([*MANAGE, *data, "metadefs", "load", "--overwrite", str(tmp_path / "out")])
    assert reloaded.returncode == 0 and reloaded.stdout.count(": created") == len(files)
    missing = run([*MANAGE, *data, "metadefs", "load", str(tmp_path / "nowhere")])
    assert missing.returncode != 0 and "no catalog files" in missing.stderr


def test_purge_forgets_deleted_images_so_their_ids_can_be_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "purge"
    server = start_server(data_dir)
    try:
        api = Api(server.url, uuid.uuid4().hex)
        gone = api.create()
        kept = api.create()
        assert api.http.delete(f"/v2/images/{gone['id']}").status_code == 204
        assert api.http.post("/v2/images", json={"id": gone["id"]}).status_code == 409
        result = run([*MANAGE, "--data-dir", str(data_dir), "purge", "--age-days", "1"])
        assert result.returncode == 0 and "purged 0 deleted image record(s)" in result.stdout
        result = run([*MANAGE, "--data-dir", str(data_dir), "purge", "--age-days", "0"])
        assert result.returncode == 0, result.stderr
        assert "purged 1 deleted image record(s)" in result.stdout
        assert api.http.post("/v2/images", json={"id": gone["id"]}).status_code == 201
        assert api.show(kept["id"])["id"] == kept["id"]
    finally:
        server.stop()
