"""Property protections: which roles may create, read, update or delete which custom properties.

The file has Glance's format: INI sections named by a regular expression over
property names, each with ``create``, ``read``, ``update`` and ``delete`` set
to comma-separated roles (``@`` everyone, ``!`` nobody) or, with the
``policies`` rule format, to one policy rule name. The first section whose
expression matches a property decides; a property that matches none is
refused every operation, as in Glance. Without a file nothing is protected.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from glimpse.context import RequestContext
from glimpse.domain.images import RESERVED_PREFIX
from glimpse.policy import Policy, PolicySyntaxError

OPERATIONS = ("create", "read", "update", "delete")


@dataclass(frozen=True)
class _Section:
    expression: re.Pattern[str]
    source: str
    permissions: dict[str, list[str]]


class PropertyProtections:
    """Compiled protection rules; :meth:`allowed` answers for one caller."""

    def __init__(self, sections: list[_Section], *, rule_format: str = "roles", policy: Policy | None = None) -> None:
        self._sections = sections
        self._format = rule_format
        self._policy = policy or Policy()

    @property
    def enabled(self) -> bool:
        return bool(self._sections)

    @classmethod
    def disabled(cls) -> PropertyProtections:
        return cls([])

    @classmethod
    def from_file(cls, path: Path | str | None, *, rule_format: str = "roles",
                  policy: Policy | None = None) -> PropertyProtections:
        if path is None:
            return cls.disabled()
        if rule_format not in ("roles", "policies"):
            raise PolicySyntaxError(f"property protection rule format must be 'roles' or 'policies', not {rule_format!r}")
        parser = configparser.ConfigParser(interpolation=None)
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except (OSError, configparser.Error) as exc:
            raise PolicySyntaxError(f"cannot read property protection file {path}: {exc}") from exc
        # Properties the service itself sets are always allowed, ahead of any catch-all section.
        sections = [_Section(re.compile(rf"^{RESERVED_PREFIX}.*"), f"{RESERVED_PREFIX}.*",
                             {op: ["@"] for op in OPERATIONS})]
        for name in parser.sections():
            if name.startswith(RESERVED_PREFIX):
                continue
            try:
                expression = re.compile(name)
            except re.error as exc:
                raise PolicySyntaxError(f"property protection section [{name}] is not a regular expression: {exc}")
            permissions: dict[str, list[str]] = {}
            for operation in OPERATIONS:
                if not parser.has_option(name, operation):
                    raise PolicySyntaxError(f"property protection section [{name}] lacks '{operation}'")
                values = [v.strip() for v in parser.get(name, operation).split(",") if v.strip()]
                if "@" in values and "!" in values:
                    raise PolicySyntaxError(f"[{name}] {operation}: '@' and '!' are mutually exclusive")
                if rule_format == "policies" and len(values) > 1:
                    raise PolicySyntaxError(f"[{name}] {operation}: give one policy rule, combine rules in the policy file")
                permissions[operation] = values
            sections.append(_Section(expression, name, permissions))
        return cls(sections, rule_format=rule_format, policy=policy)

    def allowed(self, ctx: RequestContext, name: str, operation: str) -> bool:
        """May ``ctx`` perform ``operation`` (create/read/update/delete) on property ``name``?"""
        if not self._sections:
            return True
        section = next((s for s in self._sections if s.expression.search(name)), None)
        if section is None:
            return False
        granted = section.permissions.get(operation, [])
        if not granted or "!" in granted:
            return False
        if "@" in granted:
            return True
        if self._format == "policies":
            return self._policy.allowed(granted[0], ctx)
        return bool(ctx.roles & {role.lower() for role in granted})

    def readable(self, ctx: RequestContext, properties: Mapping[str, str | None]) -> dict[str, str | None]:
        """The properties ``ctx`` may see."""
        if not self._sections:
            return dict(properties)
        return {k: v for k, v in properties.items() if self.allowed(ctx, k, "read")}
