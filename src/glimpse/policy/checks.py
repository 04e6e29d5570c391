"""The policy check language (the subset of oslo.policy's that Glance policy files use).

::

    rule:context_is_admin or (role:member and project_id:%(project_id)s)
    'public':%(visibility)s        not role:reader        @ (always)        ! (never)

A check ``left:right`` compares, as strings, the caller's credential named
``left`` (or the quoted literal ``'left'``) with ``right`` after substituting
``%(key)s`` from the target. ``role:x`` asks whether the caller has role ``x``;
``rule:name`` evaluates another rule.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TEMPLATE = re.compile(r"%\((\w+)\)s")

Credentials = Mapping[str, Any]
Target = Mapping[str, Any]
RuleLookup = Callable[[str], "Check"]


class PolicySyntaxError(ValueError):
    """A rule's check string cannot be parsed."""


class CallerCredentials(dict[str, Any]):
    """Credentials that also carry the caller's roles lowercased, computed once per question
    instead of once per ``role:`` check."""

    def __init__(self, values: Mapping[str, Any], roles: frozenset[str]) -> None:
        super().__init__(values)
        self.lowered_roles = roles


def lowered_roles(creds: Credentials) -> frozenset[str]:
    found = getattr(creds, "lowered_roles", None)
    if found is not None:
        return found  # type: ignore[no-any-return]
    return frozenset(r.lower() for r in creds.get("roles", ()))


class Check:
    """A parsed check; ``evaluate`` answers it for one caller and target."""

    def evaluate(self, creds: Credentials, target: Target, rules: RuleLookup) -> bool:
        raise NotImplementedError

    def references(self) -> set[str]:
        """Names of the rules this check refers to with ``rule:``."""
        return set()


@dataclass(frozen=True)
class Always(Check):
    result: bool

    def evaluate(self, creds: Credentials, target: Target, rules: RuleLookup) -> bool:
        return self.result


@dataclass(frozen=True)
class RuleCheck(Check):
    name: str

    def evaluate(self, creds: Credentials, target: Target, rules: RuleLookup) -> bool:
        return rules(self.name).evaluate(creds, target, rules)

    def references(self) -> set[str]:
        return {self.name}


@dataclass(frozen=True)
class RoleCheck(Check):
    role: str

    def evaluate(self, creds: Credentials, target: Target, rules: RuleLookup) -> bool:
        role = _substitute(self.role, target)
        return role is not None and role.lower() in lowered_roles(creds)


@dataclass(frozen=True)
class GenericCheck(Check):
    left: str
    right: str

    def evaluate(self, creds: Credentials, target: Target, rules: RuleLookup) -> bool:
        expected = _substitute(self.right, target)
        if expected is None:
            return False
        if len(self.left) >= 2 and self.left[0] == self.left[-1] and self.left[0] in "'\"":
            actual: Any = self.left[1:-1]
        else:
            actual = creds.get(self.left)
        return actual is not None and str(actual) == expected


@dataclass(frozen=True)
class Not(Check):
    check: Check

    def evaluate(self, creds: Credentials, target: Target, rules: RuleLookup) -> bool:
        return not self.check.evaluate(creds, target, rules)

    def references(self) -> set[str]:
        return self.check.references()


@dataclass(frozen=True)
class All(Check):
    checks: tuple[Check, ...]

    def evaluate(self, creds: Credentials, target: Target, rules: RuleLookup) -> bool:
        return all(c.evaluate(creds, target, rules) for c in self.checks)

    def references(self) -> set[str]:
        return set().union(*(c.references() for c in self.checks))


@dataclass(frozen=True)
class Any_(Check):
    checks: tuple[Check, ...]

    def evaluate(self, creds: Credentials, target: Target, rules: RuleLookup) -> bool:
        return any(c.evaluate(creds, target, rules) for c in self.checks)

    def references(self) -> set[str]:
        return set().union(*(c.references() for c in self.checks))


def _substitute(text: str, target: Target) -> str | None:
    """Fill ``%(key)s`` from the target; ``None`` when a key is missing or null."""
    parts = _template(text)
    if parts is None:
        return text
    pieces = []
    for literal, key in parts:
        pieces.append(literal)
        if key is not None:
            found = target.get(key)
            if found is None:
                return None
            pieces.append(str(found))
    return "".join(pieces)


@functools.lru_cache(maxsize=1024)
def _template(text: str) -> tuple[tuple[str, str | None], ...] | None:
    """``text`` split once into (literal, key) pairs around its ``%(key)s``; ``None`` without any."""
    parts: list[tuple[str, str | None]] = []
    position = 0
    for match in _TEMPLATE.finditer(text):
        parts.append((text[position:match.start()], match.group(1)))
        position = match.end()
    if not parts:
        return None
    parts.append((text[position:], None))
    return tuple(parts)


def _tokens(text: str) -> list[str]:
    """Split on blanks, then peel parentheses off the ends of words (``%(x)s`` keeps its own)."""
    tokens: list[str] = []
    for word in text.split():
        opening = len(word) - len(word.lstrip("("))
        closing = len(word) - len(word.rstrip(")"))
        core = word[opening:len(word) - closing]
        tokens.extend(["("] * opening + ([core] if core else []) + [")"] * closing)
    return tokens


def parse(text: str) -> Check:
    """Parse a check string; the empty string means "always"."""
    tokens = _tokens(text)
    if not tokens:
        return Always(True)
    parser = _Parser(tokens, text)
    check = parser.expression()
    if parser.position != len(tokens):
        raise PolicySyntaxError(f"unexpected {tokens[parser.position]!r} in {text!r}")
    return check


class _Parser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.position = 0

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise PolicySyntaxError(f"unexpected end of {self.text!r}")
        self.position += 1
        return token

    def expression(self) -> Check:
        parts = [self._conjunction()]
        while self._peek() == "or":
            self._take()
            parts.append(self._conjunction())
        return parts[0] if len(parts) == 1 else Any_(tuple(parts))

    def _conjunction(self) -> Check:
        parts = [self._negation()]
        while self._peek() == "and":
            self._take()
            parts.append(self._negation())
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def _negation(self) -> Check:
        if self._peek() == "not":
            self._take()
            return Not(self._negation())
        return self._atom()

    def _atom(self) -> Check:
        token = self._take()
        if token == "(":
            inner = self.expression()
            if self._take() != ")":
                raise PolicySyntaxError(f"missing ')' in {self.text!r}")
            return inner
        if token == "@":
            return Always(True)
        if token == "!":
            return Always(False)
        kind, sep, match = token.partition(":")
        if not sep or not kind or not match:
            raise PolicySyntaxError(f"{token!r} in {self.text!r} is not a check of the form kind:match")
        if kind == "rule":
            return RuleCheck(match)
        if kind == "role":
            return RoleCheck(match)
        if kind in ("http", "https"):
            raise PolicySyntaxError(f"remote {kind} checks are not supported ({self.text!r})")
        return GenericCheck(kind, match)
