"""Access rules: who may do what, with Glance's rule names and secure defaults.

A :class:`Policy` evaluates named rules (``add_image``, ``modify_image``, …)
for a caller and a target; an operator overrides any rule in a YAML or JSON
policy file without code changes. Services ask the policy as the first step of
each use case, so every transport obeys the same rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from glimpse.context import RequestContext
from glimpse.errors import Forbidden
from glimpse.lru import LruCache
from glimpse.policy.checks import Check, CallerCredentials, PolicySyntaxError, parse
from glimpse.policy.defaults import DEFAULT_RULES

__all__ = ["Policy", "PolicySyntaxError", "DEFAULT_RULES"]


class Policy:
    """A set of named rules, compiled once."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        texts = {**DEFAULT_RULES, **(overrides or {})}
        self._rules: dict[str, Check] = {}
        for name, text in texts.items():
            if not isinstance(text, str):
                raise PolicySyntaxError(f"rule {name!r} must be a string, got {text!r}")
            try:
                self._rules[name] = parse(text)
            except PolicySyntaxError as exc:
                raise PolicySyntaxError(f"rule {name!r}: {exc}") from None
        #: check_roles answers (credentials only, no target), remembered: it runs for every request
        self._role_answers: LruCache[tuple[object, ...], bool] = LruCache(1024)
        for name, check in self._rules.items():
            unknown = check.references() - self._rules.keys()
            if unknown:
                raise PolicySyntaxError(f"rule {name!r} refers to unknown rule(s) {', '.join(sorted(unknown))}")

    @classmethod
    def from_file(cls, path: Path | str | None) -> Policy:
        """The defaults overridden by a YAML or JSON file of ``rule: check string``."""
        if path is None:
            return cls()
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicySyntaxError(f"cannot read policy file {path}: {exc}") from exc
        try:
            if str(path).endswith(".json"):
                document: Any = json.loads(text)
            else:
                import yaml

                document = yaml.safe_load(text)
        except Exception as exc:  # json and yaml raise different error types
            raise PolicySyntaxError(f"cannot parse policy file {path}: {exc}") from exc
        if document is None:
            document = {}
        if not isinstance(document, dict):
            raise PolicySyntaxError(f"policy file {path} must map rule names to check strings")
        return cls(document)

    def rule_names(self) -> list[str]:
        return sorted(self._rules)

    def _lookup(self, name: str) -> Check:
        return self._rules.get(name) or self._rules["default"]

    def check_roles(self, rule: str, roles: frozenset[str] | set[str], **credentials: Any) -> bool:
        """Evaluate ``rule`` for raw credentials (used before a context exists)."""
        key = (rule, frozenset(roles), *sorted(credentials.items()))
        answer = self._role_answers.get(key)
        if answer is None:
            creds = {"roles": sorted(roles), **credentials}
            answer = self._lookup(rule).evaluate(creds, {}, self._lookup)
            self._role_answers.put(key, answer)
        return answer

    def allowed(self, rule: str, ctx: RequestContext, target: Mapping[str, Any] | None = None) -> bool:
        """Does ``rule`` allow ``ctx`` to act on ``target``? Unknown rules use ``default``."""
        creds = CallerCredentials({
            "roles": sorted(ctx.roles),
            "project_id": ctx.project_id,
            "user_id": ctx.user_id,
            "is_admin": ctx.is_admin,
        }, frozenset(r.lower() for r in ctx.roles))
        return self._lookup(rule).evaluate(creds, target or {}, self._lookup)

    def enforce(self, rule: str, ctx: RequestContext, target: Mapping[str, Any] | None, message: str) -> None:
        """Raise :class:`Forbidden` with ``message`` unless ``rule`` allows the action."""
        if not self.allowed(rule, ctx, target):
            raise Forbidden(message)
