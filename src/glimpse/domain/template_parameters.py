"""Template parameters: typed definitions, checking the values a caller fills in, and their JSON Schema.

A template's ``parameters`` maps each name (a lowercase identifier, usable as
a template variable) to a definition in the property catalog's type system
(``domain/property_types.py``): ``string`` (``pattern``, ``minLength``,
``maxLength``), ``integer``/``number`` (``minimum``, ``maximum``), ``boolean``,
``enum`` on any scalar, and ``array`` of those (``items``, ``minItems``,
``maxItems``, ``uniqueItems``). Strings and array items may carry a
``format``: ``ipv4``, ``ipv6``, ``cidr``, ``hostname``, ``email``, ``uri``,
``port``. ``secret: true`` marks a value that is never stored or echoed (it
may have no default). Each definition has ``title``, ``description``,
``default`` and ``required``.

Checking collects *every* problem, so one 400 names each bad or missing
parameter with its reason.
"""

from __future__ import annotations

import ipaddress
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from glimpse.domain.property_types import TypedProperty
from glimpse.errors import PropertyValueInvalid

SCALAR_TYPES = ("string", "integer", "number", "boolean")
TYPES = (*SCALAR_TYPES, "array")
FORMATS = ("ipv4", "ipv6", "cidr", "hostname", "email", "uri", "port")
#: Keys a definition may use.
DEFINITION_KEYS = frozenset({"type", "title", "description", "default", "required", "secret", "format", "enum",
                             "pattern", "minLength", "maxLength", "minimum", "maximum", "items", "minItems",
                             "maxItems", "uniqueItems"})
ITEM_KEYS = frozenset({"type", "format", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum"})
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
#: Names that cannot be template variables.
RESERVED_NAMES = frozenset({"true", "false", "none", "loop", "self", "varargs", "kwargs", "caller",
                            *keyword.kwlist})
MAX_PARAMETERS = 100
#: Arrays hold at most this many items (loops over them stay cheap), whatever the definition says.
MAX_ITEMS = 100
#: A string value is at most this long (a value must fit in a server's user data anyway).
MAX_STRING = 16384
#: A quantified group containing a quantifier: the shape of catastrophic backtracking.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,\d*\})(?:[^()\\]|\\.)*\)(?:[+*]|\{\d*,\d*\})")
_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Problem:
    """One bad definition or value: which parameter, and why."""

    parameter: str
    reason: str

    def __str__(self) -> str:
        return f"{self.parameter}: {self.reason}"


def check_definitions(parameters: Any) -> list[Problem]:
    """Every problem with a ``parameters`` object (unknown types or keys, bad patterns, invalid defaults)."""
    if not isinstance(parameters, dict):
        return [Problem("parameters", "must be an object of parameter definitions")]
    if len(parameters) > MAX_PARAMETERS:
        return [Problem("parameters", f"at most {MAX_PARAMETERS} parameters are allowed")]
    problems: list[Problem] = []
    for name, definition in parameters.items():
        problems.extend(Problem(name, reason) for reason in _definition_problems(name, definition))
    return problems


def _definition_problems(name: str, definition: Any) -> list[str]:
    if not isinstance(name, str) or not NAME.match(name) or name in RESERVED_NAMES:
        return ["a parameter name must be a lowercase identifier (a-z, 0-9, _; at most 64 characters) "
                "and not a reserved word"]
    if not isinstance(definition, dict):
        return ["the definition must be an object"]
    problems = [f"unknown key '{key}'; allowed: {', '.join(sorted(DEFINITION_KEYS))}"
                for key in definition if key not in DEFINITION_KEYS]
    kind = definition.get("type")
    if kind not in TYPES:
        return [*problems, f"unknown type {kind!r}; use one of {', '.join(TYPES)}"]
    for key in ("title", "description"):
        if key in definition and not isinstance(definition[key], str):
            problems.append(f"'{key}' must be a string")
    for key in ("required", "secret", "uniqueItems"):
        if key in definition and not isinstance(definition[key], bool):
            problems.append(f"'{key}' must be true or false")
    problems += _rule_problems(definition, kind)
    if kind == "array":
        items = definition.get("items", {"type": "string"})
        if not isinstance(items, dict) or items.get("type", "string") not in SCALAR_TYPES:
            problems.append(f"'items' must be an object whose type is one of {', '.join(SCALAR_TYPES)}")
        else:
            problems += [f"unknown key '{k}' in items" for k in items if k not in ITEM_KEYS]
            problems += [f"items: {p}" for p in _rule_problems(items, items.get("type", "string"))]
        for key in ("minItems", "maxItems"):
            if key in definition and not _is_count(definition[key]):
                problems.append(f"'{key}' must be a non-negative integer")
    if definition.get("secret") and kind != "string":
        problems.append("only string parameters can be secret")
    if definition.get("secret") and "default" in definition:
        problems.append("a secret parameter cannot have a default: defaults are stored and shown")
    if not problems and "default" in definition:
        try:
            check_value(name, definition, definition["default"])
        except PropertyValueInvalid as exc:
            problems.append(f"the default does not fit the definition: {_reason(exc)}")
    return problems


def _rule_problems(rules: Mapping[str, Any], kind: Any) -> list[str]:
    problems: list[str] = []
    fmt = rules.get("format")
    if fmt is not None:
        if fmt not in FORMATS:
            problems.append(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        elif kind != "string" and not (fmt == "port" and kind == "integer"):
            problems.append(f"format '{fmt}' applies to strings (and 'port' to integers)")
    if "pattern" in rules:
        if kind != "string" or not isinstance(rules["pattern"], str):
            problems.append("'pattern' must be a regular expression on a string parameter")
        else:
            try:
                re.compile(rules["pattern"])
            except re.error as exc:
                problems.append(f"'pattern' is not a valid regular expression: {exc}")
            else:
                if len(rules["pattern"]) > 1000 or _backtracks(rules["pattern"]):
                    problems.append("'pattern' repeats a group that itself repeats (such as (a+)+), which can "
                                    "take exponential time to match; simplify it")
    for key in ("minLength", "maxLength"):
        if key in rules and not _is_count(rules[key]):
            problems.append(f"'{key}' must be a non-negative integer")
    for key in ("minimum", "maximum"):
        if key in rules and (kind not in ("integer", "number") or not _is_number(rules[key])):
            problems.append(f"'{key}' must be a number on an integer or number parameter")
    if "enum" in rules and (not isinstance(rules["enum"], list) or not rules["enum"]):
        problems.append("'enum' must be a non-empty list")
    return problems


def _backtracks(pattern: str) -> bool:
    """Does ``pattern`` repeat a group that itself repeats, without a literal that starts each repetition
    (``(a+)+``, ``(\\d+)*``; not ``(,[0-9]+)*``)? Such patterns can take exponential time to fail."""
    for match in _NESTED_QUANTIFIER.finditer(pattern):
        body = match.group(0)[1:]
        body = body[2:] if body.startswith("?:") else body
        starts_with_literal = bool(body) and body[0] not in "[\\.(^$|" and (len(body) < 2 or body[1] not in "+*?{")
        if not starts_with_literal:
            return True
    return False


def check_value(name: str, definition: Mapping[str, Any], value: Any) -> Any:
    """``value`` converted to its type (strings from a command line are read as the type);
    :class:`PropertyValueInvalid` names the rule it breaks."""
    typed = TypedProperty(name, definition, "template")
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise PropertyValueInvalid(name, "maxLength", value[:40], f"a value is at most {MAX_STRING} characters")
    converted = typed.parse(typed.canonical(value))
    if definition.get("type") == "array":
        if len(converted) > MAX_ITEMS:
            raise PropertyValueInvalid(name, "maxItems", value, f"takes at most {MAX_ITEMS} items")
        items = definition.get("items") or {}
        for item in converted:
            _check_format(name, items.get("format"), item, value)
    else:
        _check_format(name, definition.get("format"), converted, value)
    if definition.get("type") == "string" and converted == "" and definition.get("required"):
        raise PropertyValueInvalid(name, "required", value, "must not be empty")
    return converted


def _check_format(name: str, fmt: Any, value: Any, shown: Any) -> None:
    if fmt is None:
        return
    if not _FORMAT_CHECKS[fmt](value):
        raise PropertyValueInvalid(name, "format", shown, f"must be {_FORMAT_NAMES[fmt]}")


def _ipv4(value: Any) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _ipv6(value: Any) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _cidr(value: Any) -> bool:
    if not isinstance(value, str) or "/" not in value:
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _hostname(value: Any) -> bool:
    if not isinstance(value, str) or not value or len(value) > 253:
        return False
    return all(_HOSTNAME_LABEL.match(label) for label in value.rstrip(".").split("."))


def _email(value: Any) -> bool:
    return isinstance(value, str) and _EMAIL.match(value) is not None and ".." not in value


def _uri(value: Any) -> bool:
    if not isinstance(value, str) or any(c.isspace() or ord(c) < 32 for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", parts.scheme)) and bool(parts.netloc or parts.path)


def _port(value: Any) -> bool:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool) and str(number) == str(value).strip() and 1 <= number <= 65535


_FORMAT_CHECKS = {"ipv4": _ipv4, "ipv6": _ipv6, "cidr": _cidr, "hostname": _hostname, "email": _email,
                  "uri": _uri, "port": _port}
_FORMAT_NAMES = {"ipv4": "an IPv4 address", "ipv6": "an IPv6 address",
                 "cidr": "a network in CIDR notation (address/prefix)", "hostname": "a host name (RFC 1123)",
                 "email": "an e-mail address", "uri": "a URI with a scheme", "port": "a port number (1-65535)"}


def fill(parameters: Mapping[str, Mapping[str, Any]], given: Any) -> tuple[dict[str, Any], list[Problem]]:
    """The value of every parameter (given, else its default, else ``None``) and every problem:
    unknown names, missing required values, values that break their definition."""
    if not isinstance(given, dict):
        return {}, [Problem("parameters", "must be an object of parameter values")]
    problems = [Problem(name, "is not a parameter of this template") for name in given if name not in parameters]
    values: dict[str, Any] = {}
    for name, definition in parameters.items():
        if name in given and given[name] is not None:
            try:
                values[name] = check_value(name, definition, given[name])
            except PropertyValueInvalid as exc:
                problems.append(Problem(name, _reason(exc)))
        elif "default" in definition:
            values[name] = check_value(name, definition, definition["default"])
        elif definition.get("required"):
            problems.append(Problem(name, "is required"))
        else:
            values[name] = None
    return values, problems


def sample_values(parameters: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A value for every parameter that fits its definition where that is easy to know (defaults,
    enums, bounds, formats): what a template is compiled and checked with when it is stored."""
    return {name: _sample(definition) for name, definition in parameters.items()}


_FORMAT_SAMPLES = {"ipv4": "192.0.2.10", "ipv6": "2001:db8::10", "cidr": "192.0.2.0/24",
                   "hostname": "host.example.org", "email": "admin@example.org", "uri": "https://example.org/",
                   "port": "443"}


def _sample(definition: Mapping[str, Any]) -> Any:
    if "default" in definition:
        return definition["default"]
    kind = definition.get("type")
    if kind == "array":
        count = max(1, definition.get("minItems", 1) if _is_count(definition.get("minItems")) else 1)
        return [_sample(definition.get("items") or {"type": "string"}) for _ in range(min(count, 3))]
    if isinstance(definition.get("enum"), list) and definition["enum"]:
        return definition["enum"][0]
    if definition.get("format") in _FORMAT_SAMPLES:
        sample = _FORMAT_SAMPLES[definition["format"]]
        return int(sample) if kind == "integer" else sample
    if kind in ("integer", "number"):
        low = definition.get("minimum")
        return low if _is_number(low) else 1
    if kind == "boolean":
        return True
    return "x" * max(1, definition.get("minLength", 1) if _is_count(definition.get("minLength")) else 1)


def conforms(parameters: Mapping[str, Mapping[str, Any]], values: Mapping[str, Any]) -> bool:
    """Do ``values`` (such as :func:`sample_values`) all fit their definitions?"""
    return not fill(parameters, {k: v for k, v in values.items() if v is not None})[1]


def secret_names(parameters: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    return frozenset(name for name, definition in parameters.items() if definition.get("secret"))


def json_schema(parameters: Mapping[str, Mapping[str, Any]], *, title: str) -> dict[str, Any]:
    """A JSON Schema (draft 7) that a form builder or client can validate parameter values with."""
    properties: dict[str, Any] = {}
    for name, definition in parameters.items():
        properties[name] = _schema_of(definition)
        for key in ("title", "description", "default"):
            if key in definition:
                properties[name][key] = definition[key]
        if definition.get("secret"):
            properties[name]["writeOnly"] = True
            properties[name]["format"] = "password"
    return {"$schema": "http://json-schema.org/draft-07/schema#", "title": title, "type": "object",
            "properties": properties, "additionalProperties": False,
            "required": sorted(n for n, d in parameters.items() if d.get("required") and "default" not in d)}


def _schema_of(rules: Mapping[str, Any]) -> dict[str, Any]:
    kind = rules.get("type", "string")
    schema: dict[str, Any] = {"type": kind}
    for key in ("enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems",
                "uniqueItems"):
        if key in rules:
            schema[key] = rules[key]
    fmt = rules.get("format")
    if fmt == "port":
        schema.update(type="integer", minimum=1, maximum=65535)
    elif fmt is not None:
        schema["format"] = {"ipv4": "ipv4", "ipv6": "ipv6", "hostname": "hostname", "email": "email",
                            "uri": "uri"}.get(fmt, fmt)
    if kind == "array":
        schema["items"] = _schema_of(rules.get("items") or {"type": "string"})
        schema.setdefault("maxItems", MAX_ITEMS)
    return schema


def _reason(exc: PropertyValueInvalid) -> str:
    """The reason of a value error without the parameter name (the caller shows that)."""
    message = exc.message
    marker = f"for property '{exc.name}': "
    return message.split(marker, 1)[1] if marker in message else message


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
