"""The web-download URL rules: strict parsing, every IP notation normalised, refused ranges, operator choices."""

from __future__ import annotations

import pytest

from glimpse.errors import InvalidRequest
from glimpse.imports.web_download import Unreachable, UrlRules, normalise

LOOPBACK_NOTATIONS = ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1", "[::ffff:127.0.0.1]",
                      "[::1]", "[0:0:0:0:0:0:0:1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]"]
REFUSED = [*LOOPBACK_NOTATIONS, "0.0.0.0", "0", "169.254.169.254", "[fd00:ec2::254]", "[fe80::1%25eth0]", "10.1.2.3",
           "172.16.0.1", "192.168.1.1", "100.64.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255", "[ff02::1]",
           "[::]", "198.18.0.1"]


@pytest.mark.parametrize("host", REFUSED)
def test_internal_addresses_in_any_notation_are_refused(host: str) -> None:
    with pytest.raises(InvalidRequest, match="not allowed"):
        UrlRules(ports=()).check(f"http://{host}:8080/image")


@pytest.mark.parametrize("host", LOOPBACK_NOTATIONS[:6])
def test_every_ipv4_notation_normalises_to_the_same_address(host: str) -> None:
    assert str(normalise(host)) == "127.0.0.1"


def test_global_addresses_and_names_pass_the_static_rules() -> None:
    rules = UrlRules()
    assert rules.check("http://93.184.215.14/x").host == "93.184.215.14"
    target = rules.check("https://Images.Example.COM./a/b?c=d")
    assert (target.host, target.port, target.path) == ("images.example.com", 443, "/a/b?c=d")


@pytest.mark.parametrize("uri,fragment", [
    ("ftp://example.com/x", "http"),
    ("http:///x", "http"),
    ("http://user:secret@example.com/x", "user name"),
    ("http://example.com:22/x", "port 22"),
    ("http://example.com:0/x", "port 0"),
    ("http://exa mple.com/x", "spaces"),
    ("http://example.com\\@127.0.0.1/x", "backslash"),
    ("http://example.com:99999/x", "not a valid URL"),
])
def test_malformed_or_disallowed_urls_are_refused_with_a_reason(uri: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest, match=fragment):
        UrlRules().check(uri)


def test_operator_networks_allow_and_deny() -> None:
    allowing = UrlRules(ports=(), allowed_networks=("127.0.0.2/32",))
    assert allowing.check("http://127.0.0.2:8000/").host == "127.0.0.2"
    with pytest.raises(InvalidRequest):
        allowing.check("http://127.0.0.1:8000/")
    denying = UrlRules(disallowed_networks=("93.184.0.0/16",))
    with pytest.raises(InvalidRequest):
        denying.check("http://93.184.215.14/")


def test_operator_host_lists_apply_to_normalised_names() -> None:
    with pytest.raises(InvalidRequest, match="not allowed"):
        UrlRules(disallowed_hosts=("images.example.com",)).check("http://IMAGES.example.com./x")
    with pytest.raises(InvalidRequest, match="not allowed"):
        UrlRules(allowed_hosts=("mirror.example.com",)).check("http://other.example.com/x")


def test_a_name_resolving_to_loopback_is_unreachable() -> None:
    rules = UrlRules(ports=())
    with pytest.raises(Unreachable):
        rules.resolve(rules.check("http://localhost:8080/"))
