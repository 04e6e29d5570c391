"""Template parameter definitions and values: the catalog's types, the formats, secrets."""

from __future__ import annotations

from typing import Any

import pytest

from glimpse.domain.template_parameters import check_definitions, fill, json_schema

FORMATS: list[tuple[str, str, Any, Any]] = [
    ("string", "ipv4", "192.0.2.1", "192.0.2.256"),
    ("string", "ipv6", "2001:db8::1", "2001:db8::g"),
    ("string", "cidr", "10.0.0.0/8", "10.0.0.0"),
    ("string", "hostname", "web-1.example.org", "-bad-.example.org"),
    ("string", "email", "ann@example.org", "ann@@example.org"),
    ("string", "uri", "https://example.org/x?y=1", "not a uri"),
    ("string", "port", "8080", "80a"),
    ("integer", "port", 65535, 65536),
]


@pytest.mark.parametrize(("kind", "fmt", "good", "bad"), FORMATS)
def test_each_format_accepts_its_values_and_names_the_rule_otherwise(kind: str, fmt: str, good: Any,
                                                                     bad: Any) -> None:
    parameters = {"p": {"type": kind, "format": fmt}}
    assert check_definitions(parameters) == []
    assert fill(parameters, {"p": good}) == ({"p": good}, [])
    _, problems = fill(parameters, {"p": bad})
    assert [p.parameter for p in problems] == ["p"] and "format" in problems[0].reason


def test_values_given_as_text_are_read_as_their_type() -> None:
    parameters = {"n": {"type": "integer"}, "b": {"type": "boolean"}, "a": {"type": "array",
                                                                           "items": {"type": "integer"}}}
    assert fill(parameters, {"n": "42", "b": "yes", "a": "1, 2"})[0] == {"n": 42, "b": True, "a": [1, 2]}


def test_every_problem_is_reported_together() -> None:
    parameters = {"a": {"type": "string", "required": True}, "b": {"type": "integer", "maximum": 3},
                  "c": {"type": "string", "enum": ["x", "y"]}}
    _, problems = fill(parameters, {"b": 4, "c": "z", "d": 1})
    assert sorted(p.parameter for p in problems) == ["a", "b", "c", "d"]


def test_secret_values_are_never_in_the_reason() -> None:
    _, problems = fill({"s": {"type": "string", "secret": True, "minLength": 20}}, {"s": "hunter2"})
    assert problems and "hunter2" not in str(problems[0])


def test_definitions_report_each_problem() -> None:
    problems = check_definitions({"a": {"type": "string", "format": "colour"}, "b": {"type": "integer",
                                                                                      "pattern": "x"},
                                  "c": {"type": "array", "items": {"type": "array"}},
                                  "if": {"type": "string"}, "d": {"type": "boolean", "secret": True}})
    assert sorted(p.parameter for p in problems) == ["a", "b", "c", "d", "if"]


def test_the_json_schema_marks_required_and_secret_parameters() -> None:
    schema = json_schema({"a": {"type": "string", "required": True}, "s": {"type": "string", "secret": True},
                          "d": {"type": "string", "required": True, "default": "x"}}, title="t")
    assert schema["required"] == ["a"]
    assert schema["properties"]["s"]["writeOnly"] is True and schema["additionalProperties"] is False


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a*)*b", "(\\d+\\.)+x", "(?:[a-z]+)+$"])
def test_patterns_that_backtrack_exponentially_are_refused(pattern: str) -> None:
    problems = check_definitions({"p": {"type": "string", "pattern": pattern}})
    assert problems and "exponential" in problems[0].reason


def test_a_repeated_group_led_by_a_literal_is_allowed() -> None:
    assert check_definitions({"p": {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"}}) == []
