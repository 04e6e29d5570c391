"""``glimpse-manage config sample``: generated from the settings model, and loading it gives the defaults."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from glimpse.settings import Settings
from tests.conftest import start_server


def sample() -> str:
    result = subprocess.run([sys.executable, "-m", "glimpse.cli.manage", "config", "sample"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_sample_names_and_describes_every_setting() -> None:
    text = sample()
    for name, field in Settings.model_fields.items():
        if name == "config_file":
            continue
        assert field.description, f"setting {name} has no description"
        assert f"\n{name} = " in text or f"\n#{name} = " in text, name
        assert field.description.split()[0] in text


def test_the_sample_loaded_as_a_config_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "glimpse.toml"
    path.write_text(sample())
    tomllib.loads(path.read_text())  # valid TOML
    loaded = Settings(config_file=path, data_dir=tmp_path).model_dump()
    defaults = Settings(data_dir=tmp_path).model_dump()
    loaded.pop("config_file")
    defaults.pop("config_file")
    assert loaded == defaults


def test_a_node_starts_from_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "glimpse.toml"
    path.write_text(sample())
    server = start_server(tmp_path / "data", args=["--config", str(path)])
    server.stop()
