"""The template language: values as safe YAML scalars, the sandbox, and bounds (no server needed)."""

from __future__ import annotations

import time

import pytest
import yaml

from glimpse.domain.template_language import (
    RenderFailed,
    TemplateRejected,
    compile_template,
    render,
    structure_of,
    yaml_scalar,
)


@pytest.mark.parametrize("value", ["a: b", "#x", "&a", "*b", "- c", "'\"", "line\nbreak", "\t", "\x00\x7f",
                                   "\u2028\u2029\x85", "\ufeffbom", "😀", "null", "~", "true", "0o17", "", " "])
def test_a_string_becomes_a_yaml_scalar_that_reads_back_the_same(value: str) -> None:
    assert yaml.safe_load(f"key: {yaml_scalar(value)}") == {"key": value}


def test_lists_and_mappings_become_flow_collections() -> None:
    value = {"a: b": [1, "x, y", True, None, 2.5]}
    assert yaml.safe_load(f"key: {yaml_scalar(value)}") == {"key": value}


def test_the_neutral_rendering_has_the_same_structure() -> None:
    source = "#cloud-config\nusers:\n{% for u in users %}  - name: {{ u }}\n{% endfor %}"
    values = {"users": ["a: b", "- c"]}
    assert structure_of(yaml.safe_load(render(source, values))) == \
        structure_of(yaml.safe_load(render(source, values, neutral=True)))


@pytest.mark.parametrize("source", [
    "{{ ''.__class__ }}", "{{ v.__init__.__globals__ }}", "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ v['__dict__'] }}", "{{ cycler.__init__ }}", "{{ joiner }}", "{{ namespace }}", "{{ range(3) }}",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}", "{% call f() %}{% endcall %}", "{% import 'x' as y %}",
    "{% extends 'base' %}", "{% do v.append(1) %}", "{{ v|attr('x') }}", "{{ v|safe }}", "{{ v|format(1) }}",
    "{{ v|indent(99) }}", "{{ v|center(99) }}", "{{ v|wordwrap(9) }}", "{{ v|batch(9) }}",
])
def test_the_sandbox_refuses_at_compile_time(source: str) -> None:
    with pytest.raises(TemplateRejected):
        compile_template(source, {"v": {}})


@pytest.mark.parametrize("source", [
    "{{ 'x' * 10**9 }}", "{{ [1] * 10**9 }}", "{{ 2 ** 10000000 }}", "{{ '%099999999d' % 1 }}",
    "{{ v.ljust(10**9) }}", "{{ '{:>99999999}'.format(1) }}", "{{ v.format_map({}) }}",
    "{% set a = 'x' * 40000 %}{{ a ~ a }}", "{% set a = 'x' * 40000 %}{{ a + a }}",
    "{{ ('x' * 40000)|list|join('y' * 40000) }}", "{{ v.__len__ }}", "{{ v.upper }}",
])
def test_the_sandbox_bounds_what_runs(source: str) -> None:
    started = time.monotonic()
    with pytest.raises((RenderFailed, TemplateRejected)):
        compile_template(source, {"v": {}})
        render(source, {"v": "abc"})
    assert time.monotonic() - started < 2


def test_output_is_capped() -> None:
    source = "{% for a in l %}{% for b in l %}{% for c in l %}{{ s }}{% endfor %}{% endfor %}{% endfor %}"
    compile_template(source, {"l": 1, "s": 1})
    with pytest.raises(RenderFailed, match="exceed"):
        render(source, {"l": list(range(100)), "s": "y" * 100})
