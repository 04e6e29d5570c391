"""Typed property definitions as pure logic: canonical forms, and an advertised schema that never refuses
what the definition accepts."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from glimpse.domain.property_types import TypedProperty
from glimpse.errors import PropertyValueInvalid


def typed(**definition: Any) -> TypedProperty:
    return TypedProperty("p", definition, "NS")


@pytest.mark.parametrize(("definition", "value", "stored"), [
    ({"type": "integer"}, " +07 ", "7"),
    ({"type": "integer"}, -3, "-3"),
    ({"type": "number"}, "1e3", "1000"),
    ({"type": "number"}, 0.25, "0.25"),
    ({"type": "boolean"}, "Off", "false"),
    ({"type": "boolean"}, True, "true"),
    ({"type": "array", "items": {"type": "integer"}}, "1, 2", "[1, 2]"),
    ({"type": "array"}, '["a b", "c"]', '["a b", "c"]'),
    ({"type": "object"}, {"b": 1, "a": 2}, '{"a": 2, "b": 1}'),
    ({"type": "string", "operators": ["<or>"], "enum": ["x", "y"]}, "<or> x <or>  y", "<or> x <or> y"),
    ({"type": "string"}, " kept as is ", " kept as is "),
])
def test_accepted_values_get_one_canonical_string(definition: dict[str, Any], value: Any, stored: str) -> None:
    prop = typed(**definition)
    assert prop.canonical(value) == stored
    assert prop.canonical(stored) == stored  # canonical is a fixed point
    assert prop.conforms(stored)


@pytest.mark.parametrize(("definition", "value", "rule"), [
    ({"type": "integer"}, "1.0", "type"),
    ({"type": "integer"}, False, "type"),
    ({"type": "number"}, "nan", "type"),
    ({"type": "number"}, float("inf"), "type"),
    ({"type": "boolean"}, "maybe", "type"),
    ({"type": "integer", "enum": ["1", "2"]}, "3", "enum"),
    ({"type": "string", "enum": ["true", "false"]}, "True", "enum"),
    ({"type": "number", "minimum": 0.5}, "0.4", "minimum"),
    ({"type": "array", "maxItems": 1}, "a,b", "maxItems"),
    ({"type": "array", "items": {"type": "boolean"}}, ["yes", "perhaps"], "type"),
    ({"type": "string", "operators": ["<or>"]}, "<in> a", "operators"),
    ({"type": "object"}, "[1]", "type"),
])
def test_refusals_name_the_rule(definition: dict[str, Any], value: Any, rule: str) -> None:
    with pytest.raises(PropertyValueInvalid) as raised:
        typed(**definition).canonical(value)
    assert raised.value.rule == rule and raised.value.name == "p"


@pytest.mark.parametrize(("definition", "samples"), [
    ({"type": "integer", "minimum": 1, "maximum": 8}, ["1", " 8", "+3", 4, "04"]),
    ({"type": "number", "maximum": 2.5}, ["2.5", ".5", "1e0", 2, 0.1]),
    ({"type": "boolean"}, ["TRUE", "no", "Y", "0", True, False]),
    ({"type": "string", "enum": ["a", "b"], "maxLength": 1}, ["a", "b"]),
    ({"type": "string", "pattern": "^[a-z]+$", "minLength": 2}, ["ab", "xyz"]),
    ({"type": "array", "items": {"type": "string", "enum": ["x", "y"]}, "uniqueItems": True},
     ["x,y", ["y"], '["x"]']),
    ({"type": "string", "operators": ["<or>"], "enum": ["x"]}, ["x", "<or> x"]),
])
def test_the_advertised_schema_accepts_every_accepted_value_and_every_stored_one(
        definition: dict[str, Any], samples: list[Any]) -> None:
    prop = typed(**definition)
    for strict in (True, False):
        validator = jsonschema.Draft4Validator({"properties": {"p": prop.advertised(strict=strict)}})
        for sample in samples:
            stored = prop.canonical(sample)
            assert list(validator.iter_errors({"p": sample})) == [], (strict, sample)
            assert list(validator.iter_errors({"p": stored})) == [], (strict, stored)


def test_parse_gives_back_the_typed_value() -> None:
    assert typed(type="integer").parse("12") == 12
    assert typed(type="boolean").parse("false") is False
    assert typed(type="array").parse('["a"]') == ["a"]
    assert typed(type="integer").parse("legacy text") == "legacy text"
