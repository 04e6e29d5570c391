"""Parsing list query parameters."""

from __future__ import annotations

import datetime as dt

import pytest

from glimpse.domain.queries import parse_image_query
from glimpse.errors import InvalidQuery


def parse(*pairs: tuple[str, str]):  # type: ignore[no-untyped-def]
    return parse_image_query(pairs, default_limit=25, max_limit=1000)


def test_defaults() -> None:
    q = parse()
    assert q.limit == 25 and q.marker is None and q.visibility is None
    assert q.member_status == "accepted" and q.os_hidden is False
    assert q.sort == (("created_at", "desc"), ("id", "desc"))


def test_limit_capped() -> None:
    assert parse(("limit", "5000")).limit == 1000


def test_sort_forms() -> None:
    assert parse(("sort", "name:asc,size")).sort == (("name", "asc"), ("size", "desc"), ("created_at", "desc"),
                                                    ("id", "desc"))
    assert parse(("sort_key", "name"), ("sort_key", "size"), ("sort_dir", "asc")).sort[:2] == (
        ("name", "asc"), ("size", "asc"))
    assert parse(("sort_key", "id"), ("sort_dir", "asc")).sort == (("id", "asc"), ("created_at", "asc"))


def test_in_lists_with_quotes() -> None:
    assert parse(("name", 'in:"a,b",c')).columns["name"] == ("a,b", "c")
    assert parse(("name", "eq:x:y")).columns["name"] == ("x:y",)
    assert parse(("name", "ubuntu:22.04")).columns["name"] == ("ubuntu:22.04",)


def test_time_filters() -> None:
    q = parse(("created_at", "gte:2026-01-31T12:00:00Z"), ("updated_at", "2026-01-31T12:00:00.5+01:00"))
    created, updated = q.times
    assert (created.operator, created.moment, created.whole_second) == (
        "gte", dt.datetime(2026, 1, 31, 12), True)
    assert (updated.operator, updated.moment, updated.whole_second) == (
        "eq", dt.datetime(2026, 1, 31, 11, 0, 0, 500000), False)


def test_unknown_keys_are_property_filters() -> None:
    assert parse(("os_distro", "ubuntu")).properties == {"os_distro": "ubuntu"}


def test_repeated_tags() -> None:
    assert parse(("tag", "a"), ("tag", "b")).tags == ("a", "b")


@pytest.mark.parametrize("pairs", [
    [("name", "a"), ("name", "b")],
    [("sort", "name"), ("sort_dir", "asc")],
    [("sort_key", "name"), ("sort_key", "name")],
    [("created_at", "soon:2020-01-01")],
])
def test_refusals(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidQuery):
        parse(*pairs)
