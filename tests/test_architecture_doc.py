"""``docs/architecture.md`` stays true: every file and module it names exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"


def named_paths(text: str) -> list[str]:
    """Every backticked repository path (``src/...``, ``tests/...``, ``docs/...``, ``pyproject.toml``)."""
    return sorted({m for m in re.findall(r"`([\w./-]+)`", text)
                   if m.startswith(("src/", "tests/", "docs/")) or m == "pyproject.toml"})


def named_modules(text: str) -> list[str]:
    """Every backticked dotted name of ours (``glimpse.x.y``)."""
    return sorted({m for m in re.findall(r"`(glimpse(?:\.\w+)+)`", text)})


def test_every_file_the_architecture_page_names_exists() -> None:
    text = DOC.read_text()
    paths = named_paths(text)
    assert len(paths) > 30, paths  # the page must really be checked
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert missing == []


def test_every_module_the_architecture_page_names_can_be_found() -> None:
    modules = named_modules(DOC.read_text())
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    assert missing == []


def test_every_module_of_the_server_package_is_on_the_page() -> None:
    text = DOC.read_text()
    modules = [p for p in (ROOT / "src" / "glimpse" / "server").glob("*.py") if p.name != "__init__.py"]
    missing = [p.name for p in modules if f"`src/glimpse/server/{p.name}`" not in text]
    assert missing == []


def test_the_check_catches_a_path_that_does_not_exist() -> None:
    assert named_paths("see `src/glimpse/nowhere.py` and `tests/x.py`") == ["src/glimpse/nowhere.py", "tests/x.py"]
    assert not (ROOT / "src/glimpse/nowhere.py").exists()
