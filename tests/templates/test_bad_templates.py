"""Templates that cannot be stored get a 400 naming the line and the reason, when they are published."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.templates.conftest import template_body

#: What is refused does not depend on the database: one backend is enough.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def refused(api: Api, image_id: str, **fields: Any) -> list[dict[str, Any]]:
    response = api.http.post("/v2/templates", json=template_body(image_id, **fields))
    assert response.status_code == 400, response.text
    problems: list[dict[str, Any]] = response.json().get("problems") or [{"reason": response.json()["message"]}]
    return problems


def test_unknown_parameter_types_and_keys_are_refused(api: Api, image: dict[str, Any]) -> None:
    problems = refused(api, image["id"], parameters={"a": {"type": "colour"}, "b": {"type": "string", "colour": 1}},
                       user_data="#cloud-config\n{}")
    assert [(p["where"], "unknown" in p["reason"]) for p in problems] == [("parameters/a", True),
                                                                          ("parameters/b", True)]


def test_defaults_must_fit_their_own_definition(api: Api, image: dict[str, Any]) -> None:
    problems = refused(api, image["id"], parameters={
        "port": {"type": "integer", "format": "port", "default": 70000},
        "mail": {"type": "string", "format": "email", "default": "nobody"},
        "size": {"type": "string", "enum": ["s", "m"], "default": "xl"},
    }, user_data="#cloud-config\n{}")
    assert {p["where"] for p in problems} == {"parameters/port", "parameters/mail", "parameters/size"}
    assert all("default" in p["reason"] for p in problems)


def test_secrets_cannot_have_defaults(api: Api, image: dict[str, Any]) -> None:
    problems = refused(api, image["id"], parameters={"pw": {"type": "string", "secret": True, "default": "x"}},
                       user_data="#cloud-config\n{}")
    assert "cannot have a default" in problems[0]["reason"]


def test_bad_patterns_and_names_are_refused(api: Api, image: dict[str, Any]) -> None:
    problems = refused(api, image["id"], parameters={"ok": {"type": "string", "pattern": "(unclosed"},
                                                      "Bad-Name": {"type": "string"}}, user_data="#cloud-config\n{}")
    assert {p["where"] for p in problems} == {"parameters/ok", "parameters/Bad-Name"}


@pytest.mark.parametrize(("user_data", "line", "reason"), [
    ("#cloud-config\nhostname: {{ host }}\nfqdn: {{ fqdn }}\n", 3, "'fqdn' is not a declared parameter"),
    ("#cloud-config\nruncmd:\n{% for x in host %}\n  - x\n", None, "Unexpected end of template"),
    ("#cloud-config\nhostname: {{ host | nosuchfilter }}\n", 2, "No filter named 'nosuchfilter'"),
    ("#cloud-config\nhostname: {{ host }\n", 2, "unexpected '}'"),
    ("#!/bin/sh\necho {{ host }}\n", 1, "#cloud-config"),
    ("#cloud-config\nkey: [unclosed\n", None, "not valid YAML"),
])
def test_templates_that_do_not_compile_or_use_undeclared_variables_are_refused(
        api: Api, image: dict[str, Any], user_data: str, line: int | None, reason: str) -> None:
    problems = refused(api, image["id"], parameters={"host": {"type": "string", "default": "h"}},
                       user_data=user_data)
    assert problems[0]["where"] == "user_data" and reason in problems[0]["reason"]
    if line is not None:
        assert problems[0]["line"] == line


def test_oversized_templates_are_refused(api: Api, image: dict[str, Any]) -> None:
    response = api.http.post("/v2/templates", json=template_body(
        image["id"], user_data="#cloud-config\n" + "#" * (61 * 1024)))
    assert response.status_code == 400 and "user_data" in response.json()["message"]


@pytest.mark.parametrize("expression", [
    "{{ ''.__class__ }}", "{{ host.__class__.__mro__[1].__subclasses__() }}", "{{ host.__globals__ }}",
    "{{ host['__class__'] }}", "{{ range(10**9) }}", "{{ cycler(1, 2) }}", "{{ joiner() }}",
    "{{ namespace(a=1) }}", "{{ lipsum(10**6) }}", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% include 'x' %}", "{{ host|attr('__class__') }}", "{{ self }}", "{{ config }}", "{{ dict(a=1) }}",
])
def test_sandbox_escapes_are_refused_when_published(api: Api, image: dict[str, Any], expression: str) -> None:
    problems = refused(api, image["id"], parameters={"host": {"type": "string", "default": "h"}},
                       user_data=f"#cloud-config\nhostname: {expression}\n")
    assert problems[0]["where"] == "user_data"


@pytest.mark.parametrize("expression", [
    "{{ 'a' * 10**9 }}", "{{ host * 100000000 }}", "{{ 10 ** 10 ** 10 }}", "{{ '%999999999d' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}", "{{ host.ljust(10**9) }}", "{{ (host * 40000) ~ (host * 40000) }}",
    "{{ (host * 40000)|list|join(host * 40000) }}",
])
def test_expressions_that_would_exhaust_the_server_are_bounded(api: Api, image: dict[str, Any],
                                                               expression: str) -> None:
    problems = refused(api, image["id"], parameters={"host": {"type": "string", "default": "h"}},
                       user_data=f"#cloud-config\nhostname: {expression}\n")
    assert problems[0]["where"] == "user_data"
    assert "rendering with sample values failed" in problems[0]["reason"]


def test_deep_loop_nesting_is_refused(api: Api, image: dict[str, Any]) -> None:
    loops = "{% for a in l %}{% for b in l %}{% for c in l %}{% for d in l %}x{% endfor %}{% endfor %}" \
            "{% endfor %}{% endfor %}"
    problems = refused(api, image["id"], parameters={"l": {"type": "array", "items": {"type": "integer"}, "default": [1]}},
                       user_data=f"#cloud-config\n# {loops}\n")
    assert "nested at most 3 deep" in problems[0]["reason"]


def test_output_that_grows_with_the_values_is_capped_at_render_time(api: Api, image: dict[str, Any]) -> None:
    loops = "{% for a in l %}{% for b in l %}{% for c in l %}{{ s }}{% endfor %}{% endfor %}{% endfor %}"
    parameters = {"l": {"type": "array", "items": {"type": "integer"}, "default": [1]}, "s": {"type": "string", "default": "x"}}
    response = api.http.post("/v2/templates", json=template_body(
        image["id"], parameters=parameters, user_data=f"#cloud-config\nkey: {loops}\n"))
    assert response.status_code == 201, response.text
    rendered = api.http.post(f"/v2/templates/{response.json()['id']}/render",
                             json={"parameters": {"l": list(range(100)), "s": "y" * 100}})
    assert rendered.status_code == 400 and "exceed" in rendered.json()["message"]
