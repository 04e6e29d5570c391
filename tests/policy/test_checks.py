"""The policy check language and rule overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from glimpse.context import RequestContext
from glimpse.policy import Policy, PolicySyntaxError
from glimpse.policy.checks import parse
from glimpse.policy.properties import PropertyProtections


def evaluate(text: str, creds: dict, target: dict | None = None) -> bool:  # type: ignore[type-arg]
    return parse(text).evaluate(creds, target or {}, lambda name: parse("role:admin"))


@pytest.mark.parametrize("text,creds,target,expected", [
    ("", {}, {}, True),
    ("@", {}, {}, True),
    ("!", {}, {}, False),
    ("role:member", {"roles": ["Member"]}, {}, True),
    ("role:member", {"roles": ["reader"]}, {}, False),
    ("project_id:%(project_id)s", {"project_id": "p"}, {"project_id": "p"}, True),
    ("project_id:%(project_id)s", {"project_id": "p"}, {"project_id": None}, False),
    ("project_id:%(project_id)s", {"project_id": "p"}, {}, False),
    ("'public':%(visibility)s", {}, {"visibility": "public"}, True),
    ("is_admin:True", {"is_admin": True}, {}, True),
    ("role:a and (role:b or role:c)", {"roles": ["a", "c"]}, {}, True),
    ("role:a and (role:b or role:c)", {"roles": ["b", "c"]}, {}, False),
    ("not role:a", {"roles": ["b"]}, {}, True),
    ("((role:a))", {"roles": ["a"]}, {}, True),
    ("rule:anything", {"roles": ["admin"]}, {}, True),
])
def test_checks(text: str, creds: dict, target: dict, expected: bool) -> None:  # type: ignore[type-arg]
    assert evaluate(text, creds, target) is expected


@pytest.mark.parametrize("text", ["role:a and", "(role:a", "role", "http://example.com/check", "role:a role:b"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(PolicySyntaxError):
        parse(text)


def test_defaults_follow_glance() -> None:
    policy = Policy()
    member = RequestContext.for_project("p")
    reader = RequestContext.for_project("p", roles={"reader"})
    admin = RequestContext.admin()
    own = {"project_id": "p", "visibility": "private"}
    assert policy.allowed("modify_image", member, own)
    assert not policy.allowed("modify_image", reader, own)
    assert not policy.allowed("modify_image", member, {"project_id": "q"})
    assert policy.allowed("get_image", reader, {"project_id": "q", "visibility": "public"})
    assert not policy.allowed("publicize_image", member)
    assert policy.allowed("publicize_image", admin)
    assert policy.allowed("no_such_rule", admin) and not policy.allowed("no_such_rule", member)


def test_file_overrides_rules(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('"publicize_image": "role:member"\n"context_is_admin": "role:cloud_admin"\n')
    policy = Policy.from_file(path)
    assert policy.allowed("publicize_image", RequestContext.for_project("p"))
    assert policy.check_roles("context_is_admin", {"cloud_admin"})
    assert not policy.check_roles("context_is_admin", {"admin"})


def test_bad_policy_files_are_refused(tmp_path: Path) -> None:
    for content in ('"add_image": "rule:missing"', '"add_image": "role:"', "- a list", "add_image: [1]"):
        path = tmp_path / "bad.yaml"
        path.write_text(content)
        with pytest.raises(PolicySyntaxError):
            Policy.from_file(path)


def test_property_protection_rules(tmp_path: Path) -> None:
    path = tmp_path / "protections.conf"
    path.write_text(
        "[^x_billing_.*]\ncreate = admin\nread = admin,member\nupdate = admin\ndelete = !\n\n"
        "[^x_open_.*]\ncreate = @\nread = @\nupdate = @\ndelete = @\n"
    )
    rules = PropertyProtections.from_file(path)
    member = RequestContext.for_project("p")
    admin = RequestContext.admin()
    assert rules.allowed(admin, "x_billing_code", "create")
    assert not rules.allowed(member, "x_billing_code", "create")
    assert rules.allowed(member, "x_billing_code", "read")
    assert not rules.allowed(admin, "x_billing_code", "delete")
    assert rules.allowed(member, "x_open_note", "delete")
    assert not rules.allowed(admin, "unmatched", "read")
    assert rules.allowed(member, "os_glance_import_task", "update")
    assert rules.readable(member, {"x_billing_code": "1", "unmatched": "2"}) == {"x_billing_code": "1"}


def test_malformed_protection_files(tmp_path: Path) -> None:
    for content in ("[x]\ncreate = @\n", "[(]\ncreate=@\nread=@\nupdate=@\ndelete=@\n",
                    "[x]\ncreate = @,!\nread=@\nupdate=@\ndelete=@\n"):
        path = tmp_path / "p.conf"
        path.write_text(content)
        with pytest.raises(PolicySyntaxError):
            PropertyProtections.from_file(path)
