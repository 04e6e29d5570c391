"""How the CLI prints results, as openstackclient does: ``-f table|json|yaml|value|csv`` and ``-c COLUMN``.

Every command prints through :func:`records` (a list of objects) or
:func:`record` (one object), so each format and the column selection work the
same everywhere, for commands added later too. ``yaml`` is written by a small
emitter for the shapes we print (mappings, lists, strings, numbers, booleans,
null), so the client needs no YAML library.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence

from glimpseclient._exceptions import ConfigurationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

FORMATS = ("table", "json", "yaml", "value", "csv")


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


def _chosen(available: Sequence[tuple[str, str]], select: Sequence[str] | None) -> list[tuple[str, str]]:
    """The (key, heading) columns ``select`` names (by key or heading, any case), in the order given."""
    if not select:
        return list(available)
    chosen = []
    for wanted in select:
        match = next((c for c in available if wanted.lower() in (c[0].lower(), c[1].lower())), None)
        if match is None:
            names = ", ".join(key for key, _ in available)
            raise ConfigurationError(f"no column {wanted!r}; the columns are: {names}")
        chosen.append(match)
    return chosen


def records(items: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], fmt: str, out: TextIO,
            select: Sequence[str] | None = None) -> None:
    """A list of objects: the given (key, heading) columns, or with ``-c`` the columns named.

    ``json`` and ``yaml`` print whole objects unless columns are selected.
    """
    if fmt in ("json", "yaml") and not select:
        _structured([dict(item) for item in items], fmt, out)
        return
    if fmt in ("json", "yaml"):
        keys = [key for key, _ in _chosen(_columns_of(items, columns), select)]
        _structured([{key: item.get(key) for key in keys} for item in items], fmt, out)
        return
    chosen = _chosen(_columns_of(items, columns) if select else columns, select)
    rows = [[render_value(item.get(key)) for key, _ in chosen] for item in items]
    if fmt == "value":
        for row in rows:
            out.write(" ".join(row) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([heading for _, heading in chosen])
        writer.writerows(rows)
    else:
        table(rows, [heading for _, heading in chosen], out)


def record(item: Mapping[str, Any], fmt: str, out: TextIO, select: Sequence[str] | None = None) -> None:
    """One object: a field/value table (fields sorted), its JSON or YAML, its values, or CSV rows."""
    fields = sorted(item)
    if select:
        fields = [key for key, _ in _chosen([(key, key) for key in fields], select)]
    chosen = {key: item[key] for key in fields}
    if fmt in ("json", "yaml"):
        _structured(chosen, fmt, out)
    elif fmt == "value":
        for value in chosen.values():
            out.write(render_value(value) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["Field", "Value"])
        writer.writerows([key, render_value(value)] for key, value in chosen.items())
    else:
        table([[key, render_value(value)] for key, value in chosen.items()], ["Field", "Value"], out)


def _columns_of(items: Sequence[Mapping[str, Any]], defaults: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The default columns, then every other key the objects have (so ``-c`` can pick any field)."""
    seen = {key for key, _ in defaults}
    extra = sorted({key for item in items for key in item} - seen)
    return [*defaults, *((key, key) for key in extra)]


def _structured(value: Any, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
    else:
        out.write(yaml_text(value))


_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./ :+-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}


def yaml_text(value: Any) -> str:
    """``value`` (mappings, lists, strings, numbers, booleans, ``None``) as a YAML document."""
    lines = _yaml(value, 0)
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if (not _PLAIN.match(text) or text.lower() in _RESERVED or text.endswith((" ", ":")) or ": " in text
            or _looks_numeric(text)):
        return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar
    return text


def _looks_numeric(text: str) -> bool:
    """Would a YAML 1.1 reader take this plain text for a number, a date or a special float?"""
    if re.match(r"^\d{4}-\d\d?-\d\d?", text) or text.lower() in (".inf", "-.inf", "+.inf", ".nan"):
        return True
    try:
        float(text)
    except ValueError:
        return text.startswith(("0x", "0o")) or bool(re.match(r"^\d[\d_:]*$", text))
    return True


def _yaml(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        lines = []
        for key in sorted(value):
            item = value[key]
            label = f"{pad}{_scalar(str(key))}:"
            if isinstance(item, (Mapping, list, tuple)) and item:
                lines.append(label)
                lines.extend(_yaml(item, indent + 2))
            else:
                lines.append(f"{label} {_inline(item)}")
        return lines
    if isinstance(value, (list, tuple)):
        if not value:
            return [pad + "[]"]
        lines = []
        for item in value:
            if isinstance(item, (Mapping, list, tuple)) and item:
                nested = _yaml(item, indent + 2)
                lines.append(f"{pad}- {nested[0].lstrip()}")
                lines.extend(nested[1:])
            else:
                lines.append(f"{pad}- {_inline(item)}")
        return lines
    return [pad + _scalar(value)]


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _scalar(value)


def human_size(size: float | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""  # pragma: no cover - the loop always returns
