"""Guard: the built-in extensions table of docs/extensions.md is exactly what the code registers."""

from __future__ import annotations

import re
from pathlib import Path

from glimpse.extensions.manager import BUILTIN, load_extensions
from glimpse.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def documented() -> dict[str, str]:
    """alias -> the docs file its row links to, from the "Built-in extensions" table."""
    text = (DOCS / "extensions.md").read_text()
    table = text.split("Built-in extensions:", 1)[1].split("\n## ", 1)[0]
    return {alias: link for alias, link in re.findall(r"^\| `([^`]+)` \|.*\]\(([^)#]+)[^)]*\) \|$", table, re.M)}


def test_every_built_in_extension_is_in_the_table_and_nothing_else() -> None:
    assert sorted(documented()) == sorted(BUILTIN)


def test_every_row_links_to_a_page_that_exists() -> None:
    for alias, page in documented().items():
        assert (DOCS / page).is_file(), f"{alias}: {page}"


def test_every_built_in_loads_under_its_alias(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, extensions=list(BUILTIN))
    extensions = load_extensions(settings)
    assert sorted(info.alias for info in extensions.infos.values() if info.builtin) == sorted(BUILTIN)
