"""Image list queries: filters, sorting and paging parsed from query parameters.

Parsing is transport-agnostic: it takes ``(name, value)`` pairs, as an HTTP
query string or an RPC message would carry them, and raises
:class:`~glimpse.errors.InvalidQuery` with a message naming the parameter.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from glimpse.domain.schemas import STATUSES
from glimpse.domain.storable import INT32_MAX, INT64_MAX, unstorable_text
from glimpse.errors import InvalidQuery

SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at")
SORT_DIRS = ("asc", "desc")
VISIBILITY_FILTERS = ("public", "private", "shared", "community", "all")
MEMBER_STATUS_FILTERS = ("pending", "accepted", "rejected", "all")
TIME_OPERATORS = ("gt", "gte", "lt", "lte", "eq", "neq")
#: Columns that take ``in:a,b`` and ``eq:a`` as well as a bare value.
LIST_COLUMNS = ("name", "id", "status", "container_format", "disk_format")
#: Other columns matched exactly.
EXACT_COLUMNS = ("owner", "checksum", "os_hash_value", "os_hash_algo")
INTEGER_COLUMNS = ("min_ram", "min_disk", "virtual_size")
#: Operators of the filters that are not times, refused on the columns above (which take in/eq only).
RANGE_OPERATORS = ("gt", "gte", "lt", "lte", "neq")
#: Values ``status=`` may take (an image is never listed ``deleted`` or ``killed``, but asking is no error).
STATUS_VALUES = tuple(STATUSES)
_INTEGER_MAXIMA = {"min_ram": INT32_MAX, "min_disk": INT32_MAX, "virtual_size": INT64_MAX}
#: Default caps on the cost of one listing (the settings ``max_list_tags``, ``max_list_in_values`` and
#: ``max_list_property_filters``).
DEFAULT_MAX_TAGS = 20
DEFAULT_MAX_VALUES = 100
DEFAULT_MAX_PROPERTIES = 20
#: Times a filter may name: what every database's timestamp column holds (MariaDB starts at year 1000).
_EARLIEST = dt.datetime(1000, 1, 1)
_LATEST = dt.datetime(9999, 12, 31, 23, 59, 58)
_INTEGER = re.compile(r"[+-]?[0-9]{1,25}")
_PAGING_KEYS = {"limit", "marker", "sort_key", "sort_dir", "sort"}


@dataclass(frozen=True)
class TimeFilter:
    """``column <operator> moment``; a moment given to the second covers that whole second."""

    column: str
    operator: str
    moment: dt.datetime
    whole_second: bool


@dataclass(frozen=True)
class ImageQuery:
    limit: int
    marker: str | None = None
    sort: tuple[tuple[str, str], ...] = (("created_at", "desc"), ("id", "desc"))
    visibility: str | None = None
    member_status: str = "accepted"
    os_hidden: bool = False
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    integers: dict[str, int] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    size_min: int | None = None
    size_max: int | None = None
    protected: bool | None = None
    times: tuple[TimeFilter, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)


def parse_image_query(params: Iterable[tuple[str, str]], *, default_limit: int, max_limit: int,
                      max_tags: int = DEFAULT_MAX_TAGS, max_values: int = DEFAULT_MAX_VALUES,
                      max_properties: int = DEFAULT_MAX_PROPERTIES) -> ImageQuery:
    """Build an :class:`ImageQuery` from query parameters (repeated keys allowed).

    A listing's cost is bounded: at most ``max_tags`` distinct ``tag`` filters,
    ``max_values`` values in one ``in:`` list and ``max_properties`` property
    filters, else :class:`InvalidQuery` naming the limit.
    """
    pairs = list(params)
    for key, value in pairs:
        _check_text(key, value)
    single: dict[str, str] = {}
    for key, value in pairs:
        if key not in ("tag", "sort_key", "sort_dir"):
            if key in single and single[key] != value:
                raise InvalidQuery(f"Query parameter '{key}' may be given only once.")
            single[key] = value

    columns: dict[str, tuple[str, ...]] = {}
    integers: dict[str, int] = {}
    times: list[TimeFilter] = []
    properties: dict[str, str] = {}
    for key, value in single.items():
        if key in _PAGING_KEYS or key in ("visibility", "member_status", "os_hidden", "protected",
                                          "size_min", "size_max"):
            continue
        if key == "changes-since":
            raise InvalidQuery("The 'changes-since' filter is not available in v2; use 'updated_at=gte:<time>'.")
        if key in LIST_COLUMNS:
            columns[key] = _parse_value_list(key, value, max_values)
            if key == "status":
                for status in columns[key]:
                    _parse_choice("status", status, STATUS_VALUES)
        elif key in EXACT_COLUMNS:
            columns[key] = (value,)
        elif key in INTEGER_COLUMNS:
            integers[key] = _parse_int(key, value, minimum=0, maximum=_INTEGER_MAXIMA[key])
        elif key in ("created_at", "updated_at"):
            times.append(_parse_time_filter(key, value))
        else:
            properties[key] = value
    if len(properties) > max_properties:
        raise InvalidQuery(f"At most {max_properties} property filters may be given in one request, "
                           f"got {len(properties)}.")

    return ImageQuery(
        limit=_parse_limit(single.get("limit"), default_limit, max_limit),
        marker=single.get("marker"),
        sort=_parse_sort(pairs, single.get("sort")),
        visibility=_parse_choice("visibility", single.get("visibility"), VISIBILITY_FILTERS),
        member_status=_parse_choice("member_status", single.get("member_status"), MEMBER_STATUS_FILTERS) or "accepted",
        os_hidden=_parse_bool("os_hidden", single.get("os_hidden")) or False,
        columns=columns,
        integers=integers,
        tags=_parse_tags(pairs, max_tags),
        size_min=_parse_optional_int("size_min", single.get("size_min")),
        size_max=_parse_optional_int("size_max", single.get("size_max")),
        protected=_parse_bool("protected", single.get("protected")),
        times=tuple(times),
        properties=properties,
    )


def _parse_limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    return min(_parse_int("limit", raw, minimum=0), maximum)


def _parse_int(name: str, raw: str, *, minimum: int | None = None, maximum: int = INT64_MAX) -> int:
    text = raw.strip()
    if not _INTEGER.fullmatch(text):  # int() also takes "1_000", and thousands of digits slowly
        raise InvalidQuery(f"Query parameter '{name}' must be an integer, got {raw[:40]!r}.")
    value = int(text)
    if minimum is not None and value < minimum:
        raise InvalidQuery(f"Query parameter '{name}' must be at least {minimum}, got {value}.")
    if value > maximum:
        raise InvalidQuery(f"Query parameter '{name}' must be at most {maximum}, got {value}.")
    return value


def _parse_optional_int(name: str, raw: str | None) -> int | None:
    return None if raw is None else _parse_int(name, raw, minimum=0)


def _parse_tags(pairs: list[tuple[str, str]], max_tags: int) -> tuple[str, ...]:
    tags = tuple(dict.fromkeys(value for key, value in pairs if key == "tag"))
    if len(tags) > max_tags:
        raise InvalidQuery(f"At most {max_tags} 'tag' filters may be given in one request, got {len(tags)}.")
    return tags


def _check_text(name: str, value: str) -> None:
    """Refuse text no database can compare with (NUL, lone surrogates) in a parameter's name or value."""
    reason = unstorable_text(name + value)
    if reason is not None:
        raise InvalidQuery(f"Query parameter {name.encode('utf-8', 'replace').decode()!r} {reason}.")


def _parse_bool(name: str, raw: str | None) -> bool | None:
    if raw is None:
        return None
    raw = raw.lower()  # openstacksdk sends Python's "True"/"False"
    if raw not in ("true", "false"):
        raise InvalidQuery(f"Query parameter '{name}' must be 'true' or 'false', got {raw!r}.")
    return raw == "true"


def _parse_choice(name: str, raw: str | None, choices: tuple[str, ...]) -> str | None:
    if raw is None:
        return None
    if raw not in choices:
        raise InvalidQuery(f"Query parameter '{name}' must be one of {', '.join(choices)}; got {raw!r}.")
    return raw


def _parse_value_list(name: str, raw: str, max_values: int) -> tuple[str, ...]:
    """``in:a,"b,c"`` -> several values, ``eq:a`` -> one; a range operator is refused; anything else
    (``ubuntu:22.04``) is taken literally."""
    operator, sep, rest = raw.partition(":")
    if sep and operator in RANGE_OPERATORS:
        raise InvalidQuery(f"Operator '{operator}' is not supported for '{name}'; use 'in' or 'eq'.")
    if not sep or operator not in ("in", "eq"):
        return (raw,)
    if operator == "eq":
        return (rest,)
    try:
        rows = list(csv.reader([rest], skipinitialspace=True, strict=True))
    except csv.Error as exc:
        raise InvalidQuery(f"Cannot parse the 'in:' list of '{name}': {exc}.") from None
    values = tuple(dict.fromkeys(v for v in rows[0] if v)) if rows else ()
    if not values:
        raise InvalidQuery(f"The 'in:' list of '{name}' is empty.")
    if len(values) > max_values:
        raise InvalidQuery(f"The 'in:' list of '{name}' may hold at most {max_values} values, got {len(values)}.")
    return values


def _parse_time_filter(column: str, raw: str) -> TimeFilter:
    operator, sep, rest = raw.partition(":")
    if sep and operator.isalpha():
        if operator not in TIME_OPERATORS:
            raise InvalidQuery(
                f"Operator '{operator}' is not supported for '{column}'; use one of {', '.join(TIME_OPERATORS)}."
            )
        text = rest
    else:
        operator, text = "eq", raw
    moment, whole_second = parse_timestamp(column, text)
    return TimeFilter(column, operator, moment, whole_second)


def parse_timestamp(name: str, text: str) -> tuple[dt.datetime, bool]:
    """Parse an ISO 8601 time into naive UTC; also tell whether it has no fraction of a second."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise InvalidQuery(f"Query parameter '{name}' has an invalid ISO 8601 time: {text[:40]!r}.") from None
    if not _EARLIEST <= moment <= _LATEST:  # a whole-second filter adds a second; databases stop at year 9999
        raise InvalidQuery(f"Query parameter '{name}' must be a time between {_EARLIEST.isoformat()}Z and "
                           f"{_LATEST.isoformat()}Z, got {text[:40]!r}.")
    return moment, moment.microsecond == 0


def _parse_sort(pairs: list[tuple[str, str]], sort: str | None) -> tuple[tuple[str, str], ...]:
    keys = [v for k, v in pairs if k == "sort_key"]
    dirs = [v for k, v in pairs if k == "sort_dir"]
    if sort is not None:
        if keys or dirs:
            raise InvalidQuery("Use either 'sort' or 'sort_key'/'sort_dir', not both.")
        chosen = []
        for item in sort.split(","):
            key, _, direction = item.strip().partition(":")
            chosen.append((key.strip(), (direction.strip() or "desc")))
    else:
        if dirs and len(dirs) not in (1, len(keys) or 1):
            raise InvalidQuery("Give one 'sort_dir' for all sort keys or one per 'sort_key'.")
        keys = keys or ["created_at"]
        dirs = dirs or ["desc"]
        chosen = [(key, dirs[i] if len(dirs) > 1 else dirs[0]) for i, key in enumerate(keys)]
    for key, direction in chosen:
        if key not in SORT_KEYS:
            raise InvalidQuery(f"Unknown sort key '{key}'; use one of {', '.join(SORT_KEYS)}.")
        if direction not in SORT_DIRS:
            raise InvalidQuery(f"Unknown sort direction '{direction}'; use 'asc' or 'desc'.")
    seen = [key for key, _ in chosen]
    if len(set(seen)) != len(seen):
        raise InvalidQuery("A sort key may be given only once.")
    last = chosen[-1][1]
    for tie_breaker in ("created_at", "id"):
        if tie_breaker not in seen:
            chosen.append((tie_breaker, last))
    return tuple(chosen)
