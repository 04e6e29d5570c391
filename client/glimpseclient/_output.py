"""How the CLI prints results: plain-text tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO


def render_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(render_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def table(rows: Sequence[Sequence[str]], header: Sequence[str], out: TextIO) -> None:
    """Columns padded to their widest cell, separated by two spaces; the last column unpadded."""
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells[:-1], widths[:-1], strict=True)]
        return "  ".join([*padded, cells[-1]]).rstrip()

    out.write(line(header) + "\n")
    out.write(line(["-" * w for w in widths]) + "\n")
    for row in rows:
        out.write(line(row) + "\n")


def records(items: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], fmt: str, out: TextIO) -> None:
    """A list of objects: a table of the given (key, heading) columns, or the full JSON array."""
    if fmt == "json":
        out.write(json.dumps(list(items), indent=2, sort_keys=True) + "\n")
        return
    rows = [[render_value(item.get(key)) for key, _ in columns] for item in items]
    table(rows, [heading for _, heading in columns], out)


def record(item: Mapping[str, Any], fmt: str, out: TextIO) -> None:
    """One object: a field/value table (fields sorted), or its JSON."""
    if fmt == "json":
        out.write(json.dumps(dict(item), indent=2, sort_keys=True) + "\n")
        return
    table([[key, render_value(value)] for key, value in sorted(item.items())], ["Field", "Value"], out)


def human_size(size: float | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""  # pragma: no cover - the loop always returns
