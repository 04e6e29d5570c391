"""``pip install ./client`` into an empty virtual environment installs exactly one package."""

from __future__ import annotations

import json
import shutil
import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = {"pip", "setuptools", "wheel"}


def test_the_client_installs_alone_and_runs(tmp_path: Path) -> None:
    source = tmp_path / "client"
    # Build from a copy so that the build leaves nothing in the working tree.
    shutil.copytree(ROOT / "client", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = str(environment / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", str(source)], capture_output=True,
                             text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    listing = subprocess.run([python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                             timeout=120, check=True)
    installed = {package["name"].lower() for package in json.loads(listing.stdout)} - BOOTSTRAP
    assert installed == {"glimpseclient"}
    help_text = subprocess.run([str(environment / "bin" / "glimpse"), "--help"], capture_output=True, text=True,
                               timeout=60)
    assert help_text.returncode == 0 and help_text.stdout.startswith("usage: glimpse")
    # Nothing outside the standard library is importable there, so this proves stdlib-only imports too.
    imports = subprocess.run([python, "-c", "import glimpseclient, glimpseclient.cli, glimpseclient._commands; "
                              "print(sorted(glimpseclient.__all__)[:1])"], capture_output=True, text=True, timeout=60)
    assert imports.returncode == 0, imports.stderr
