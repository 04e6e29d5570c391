"""JSON Patch parsing and application on image records."""

from __future__ import annotations

import datetime as dt

import pytest

from glimpse import errors
from glimpse.domain.images import Image, ImageStatus, Visibility
from glimpse.domain.patch import Dialect, apply_patch, parse_patch
from glimpse.domain.schemas import DEFAULT_CUSTOM_PROPERTIES, ImageSchema

SCHEMA = ImageSchema(["raw", "qcow2"], ["bare"], dict(DEFAULT_CUSTOM_PROPERTIES))
NOW = dt.datetime(2026, 1, 1)


def image(**changes: object) -> Image:
    base = Image(id="6a0e2d8e-6a6b-4a39-9e38-1f6f2b8a9d11", name="n", status=ImageStatus.QUEUED,
                 visibility=Visibility.SHARED, owner="p", created_at=NOW, updated_at=NOW,
                 properties={"a": "1"}, tags=("t",))
    import dataclasses
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_operations_apply_in_order() -> None:
    ops = parse_patch([{"op": "add", "path": "/b", "value": "2"}, {"op": "replace", "path": "/b", "value": "3"},
                       {"op": "remove", "path": "/a"}, {"op": "replace", "path": "/tags", "value": ["z", "y", "z"]}])
    result = apply_patch(image(), ops, SCHEMA)
    assert result.properties == {"b": "3"} and result.tags == ("y", "z")


def test_v20_dialect() -> None:
    ops = parse_patch([{"add": "/a", "value": "x"}], Dialect.V20)
    with pytest.raises(errors.PropertyConflict):
        apply_patch(image(), ops, SCHEMA, Dialect.V20)
    assert apply_patch(image(), ops, SCHEMA, Dialect.V21).properties["a"] == "x"


def test_format_frozen_after_queued_but_same_value_is_fine() -> None:
    active = image(status=ImageStatus.ACTIVE, disk_format="raw")
    with pytest.raises(errors.Forbidden):
        apply_patch(active, parse_patch([{"op": "replace", "path": "/disk_format", "value": "qcow2"}]), SCHEMA)
    same = apply_patch(active, parse_patch([{"op": "replace", "path": "/disk_format", "value": "raw"}]), SCHEMA)
    assert same == active


@pytest.mark.parametrize("document", [
    "x", [1], [{"op": "replace", "path": "/a"}], [{"path": "/a", "value": 1}], [{"add": "/a", "remove": "/b"}],
])
def test_malformed(document: object) -> None:
    with pytest.raises(errors.InvalidPatch):
        parse_patch(document, Dialect.V20 if isinstance(document, list) and document and isinstance(
            document[0], dict) and "add" in document[0] else Dialect.V21)
