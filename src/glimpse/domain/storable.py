"""What a database can store: text without NUL or lone surrogates, integers within column ranges,
documents of bounded depth.

Every value a caller sends ends up in a column or a bind parameter. PostgreSQL
refuses a NUL character in text, every driver fails to encode a lone UTF-16
surrogate (``"\\ud800"`` is valid JSON), and integers overflow their column
(``min_ram`` is 32-bit, sizes 64-bit; SQLite and Python have no such limit, so
the overflow appears only on some backends). Checking once where input enters
turns each of these into a clear refusal instead of a driver error.
"""

from __future__ import annotations

import re
from typing import Any

from glimpse.errors import InvalidRequest, LimitExceeded

#: Largest value of a 32-bit integer column (``min_ram``, ``min_disk``), as Glance enforces.
INT32_MAX = 2**31 - 1
#: Largest value of a 64-bit integer column (sizes); also the bound of any integer in a JSON body.
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
#: Deepest nesting of arrays and objects a JSON body may have.
DEFAULT_MAX_DEPTH = 32
#: Longest string in bytes: what a MySQL/MariaDB ``TEXT`` column (descriptions, property values) holds.
MAX_TEXT_BYTES = 65535

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL character, a lone surrogate), or ``None`` when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character"
    return f"contains a lone UTF-16 surrogate (\\u{ord(found.group()):04x}), which is not a character"


def check_text(where: str, text: str) -> None:
    """Raise :class:`InvalidRequest` naming ``where`` when ``text`` cannot be stored."""
    reason = unstorable_text(text)
    if reason is not None:
        raise InvalidRequest(f"{where} {reason}.")


def check_document(document: Any, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Check a decoded JSON document: depth, text (keys too), string length and integer range.

    Raises :class:`InvalidRequest` naming the path of the first offending
    value (``/properties/0/name``), :class:`LimitExceeded` for a string longer
    than :data:`MAX_TEXT_BYTES`. Walks without recursion, so no depth makes it
    fail.
    """
    pending: list[tuple[Any, str, int]] = [(document, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            check_text(f"The value at '{path or '/'}'", value)
            if len(value) > MAX_TEXT_BYTES // 4 and len(value.encode("utf-8")) > MAX_TEXT_BYTES:
                raise LimitExceeded(f"The value at '{path}' has {len(value.encode('utf-8'))} bytes; "
                                    f"a string may hold at most {MAX_TEXT_BYTES} bytes.")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                raise InvalidRequest(f"The integer at '{path or '/'}' is out of range: "
                                     f"integers must lie between {INT64_MIN} and {INT64_MAX}.")
        elif isinstance(value, (dict, list)):
            if depth >= max_depth:
                raise InvalidRequest(f"The JSON body is nested more than {max_depth} levels deep (at '{path}').")
            if isinstance(value, dict):
                for key, item in value.items():
                    check_text(f"The name '{path}/{_printable(key)}'", key)
                    pending.append((item, f"{path}/{_printable(key)}", depth + 1))
            else:
                pending.extend((item, f"{path}/{i}", depth + 1) for i, item in enumerate(value))


def _printable(key: str) -> str:
    shown = _UNSTORABLE.sub("\ufffd", key)
    return shown if len(shown) <= 60 else shown[:60] + "…"
