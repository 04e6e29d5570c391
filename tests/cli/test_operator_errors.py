"""An operator's mistake gets one line naming the setting and what is wrong: no traceback, nothing created."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

MANAGE = [sys.executable, "-m", "glimpse.cli.manage"]
SERVE = [sys.executable, "-m", "glimpse.cli.serve"]


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    environment.update(env)
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("GLIMPSE_EXTENSIONS", "image-import", "GLIMPSE_EXTENSIONS='image-import' is not valid JSON"),
    ("GLIMPSE_STORES", '{"file": ', "GLIMPSE_STORES"),
    ("GLIMPSE_WORKERS", "many", "workers (GLIMPSE_WORKERS)"),
    ("GLIMPSE_AUTH_STRATEGY", "magic", "unknown authentication strategy 'magic'; installed: keystone, noauth, tokens"),
    ("GLIMPSE_DISK_FORMATS", '"raw"', "disk_formats (GLIMPSE_DISK_FORMATS): Input should be a valid list"),
    ("GLIMPSE_EXTENSIONS", '["no-such-extension"]', "extension 'no-such-extension'"),
    ("GLIMPSE_POLICY_FILE", "/no/such/policy.yaml", "cannot read policy file /no/such/policy.yaml"),
    ("GLIMPSE_DATABASE_STATEMENT_TIMEOUT", "-1", "database_statement_timeout"),
])
def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path, variable: str, value: str, expected: str) -> None:
    result = run([*MANAGE, "--data-dir", str(tmp_path), "token", "list"], **{variable: value})
    assert expected in one_line_error(result)


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("GLIMPSE_EXTENSIONS", "image-import", "GLIMPSE_EXTENSIONS='image-import' is not valid JSON"),
    ("GLIMPSE_POLICY_FILE", "/no/such/policy.yaml", "cannot read policy file /no/such/policy.yaml"),
])
def test_the_server_refuses_a_bad_setting_in_one_line_before_starting(tmp_path: Path, variable: str, value: str,
                                                                      expected: str) -> None:
    result = run([*SERVE, "--data-dir", str(tmp_path), "--port", "0"], **{variable: value})
    assert expected in one_line_error(result)


def test_a_toml_file_that_is_not_toml_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "glimpse.toml"
    config.write_text("port = = 1\n")
    assert "not valid TOML" in one_line_error(run([*MANAGE, "--config", str(config), "token", "list"]))


@pytest.mark.parametrize("action", ["check", "version"])
def test_db_check_and_version_never_create_a_database(tmp_path: Path, action: str) -> None:
    data_dir = tmp_path / "never"
    result = run([*MANAGE, "--data-dir", str(data_dir), "db", action])
    assert "Traceback" not in result.stderr
    assert "does not exist: run 'glimpse-manage db upgrade'" in result.stdout
    assert result.returncode == (1 if action == "check" else 0)
    assert not data_dir.exists()


@pytest.mark.parametrize("command", [["token", "create", "--project", "p"], ["token", "list"], ["quota", "list"],
                                     ["cleanup"]])
def test_commands_on_a_missing_database_say_to_migrate_and_create_nothing(tmp_path: Path,
                                                                         command: list[str]) -> None:
    data_dir = tmp_path / "never"
    line = one_line_error(run([*MANAGE, "--data-dir", str(data_dir), *command]))
    assert "glimpse-manage db upgrade" in line
    assert not data_dir.exists()


def test_commands_on_an_unmigrated_database_say_to_migrate(tmp_path: Path) -> None:
    path = tmp_path / "glimpse.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE unrelated (x INTEGER)")
    line = one_line_error(run([*MANAGE, "--database-url", f"sqlite:///{path}", "token", "create"]))
    assert "empty database" in line and "run 'glimpse-manage db upgrade' first" in line
    assert run([*MANAGE, "--database-url", f"sqlite:///{path}", "db", "upgrade"]).returncode == 0
    created = run([*MANAGE, "--database-url", f"sqlite:///{path}", "token", "create", "--project", "p"])
    assert created.returncode == 0, created.stderr


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    for command in (["db", "check"], ["token", "list"]):
        line = one_line_error(run([*MANAGE, "--database-url", url, *command]))
        assert "cannot use the database" in line


def test_a_quota_limit_beyond_64_bits_is_one_line(tmp_path: Path) -> None:
    assert run([*MANAGE, "--data-dir", str(tmp_path), "db", "upgrade"]).returncode == 0
    line = one_line_error(run([*MANAGE, "--data-dir", str(tmp_path), "quota", "set", "--project", "p",
                               "--resource", "image_size_total", "--limit", str(2**64)]))
    assert "at most 8796093022207" in line
