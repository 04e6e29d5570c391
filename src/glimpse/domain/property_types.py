"""Typed image properties: a catalog definition checks a value, gives its canonical
string form, and describes itself for the image schema.

Image property values are strings on the wire and in the database (that is what
python-glanceclient's CLI and openstacksdk send and what every client reads).
A definition accepts its JSON type or a string that parses to it, and the
canonical string is stored: ``"04"`` for an integer becomes ``"4"``, ``True``
or ``"yes"`` for a boolean becomes ``"true"``, a list becomes JSON text.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from glimpse.errors import PropertyValueInvalid

TRUE_WORDS = ("true", "t", "yes", "y", "on", "1")
FALSE_WORDS = ("false", "f", "no", "n", "off", "0")


def _caseless(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


#: What a string must look like to be read as each type (JSON Schema patterns, no inline flags).
INTEGER_TEXT = r"^\s*[-+]?[0-9]+\s*$"
NUMBER_TEXT = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
BOOLEAN_TEXT = r"^\s*(" + "|".join(_caseless(w) for w in TRUE_WORDS + FALSE_WORDS) + r")\s*$"
_TEXT_PATTERNS = {"integer": INTEGER_TEXT, "number": NUMBER_TEXT, "boolean": BOOLEAN_TEXT}
_OPERATOR = re.compile(r"^\s*(<[a-z-]+>)")
#: Keys of a definition that constrain values (advertised under ``metadef`` in the image schema).
CONSTRAINT_KEYS = ("enum", "minimum", "maximum", "minLength", "maxLength", "pattern", "items", "minItems",
                   "maxItems", "uniqueItems", "operators", "readonly", "default")


@dataclass(frozen=True)
class TypedProperty:
    """A property as images carry it (``name`` includes the association's prefix), with its definition."""

    name: str
    definition: Mapping[str, Any]
    namespace: str
    prefix: str | None = None
    object_name: str | None = None

    @property
    def type(self) -> str:
        kind = self.definition.get("type")
        return kind if isinstance(kind, str) else "string"

    @property
    def readonly(self) -> bool:
        return bool(self.definition.get("readonly", False))

    @property
    def source_name(self) -> str:
        """The name inside its namespace, without the prefix."""
        return self.name[len(self.prefix):] if self.prefix and self.name.startswith(self.prefix) else self.name

    # -- values
    def canonical(self, value: Any) -> str:
        """The canonical string of ``value``; :class:`PropertyValueInvalid` names the rule it breaks."""
        operators = [o for o in self.definition.get("operators") or [] if isinstance(o, str)]
        if operators and isinstance(value, str) and _OPERATOR.match(value):
            return self._with_operator(value, operators)
        if self.type == "array":
            return self._array(value)
        return _render(self._scalar(value, self.definition, self.type))

    def parse(self, stored: str | None) -> Any:
        """The typed value of a stored (canonical) string; the string itself if it does not parse."""
        if stored is None:
            return None
        try:
            if self.type == "array" or self.type == "object":
                return json.loads(stored)
            if self.type in ("integer", "number", "boolean"):
                return _convert(stored, self.type)
        except (ValueError, TypeError):
            pass
        return stored

    def conforms(self, stored: str | None) -> bool:
        """Does a stored value satisfy the definition (so the advertised schema may be strict)?"""
        if stored is None:
            return True
        try:
            self.canonical(stored)
        except PropertyValueInvalid:
            return False
        return True

    def _fail(self, rule: str, value: Any, explanation: str) -> PropertyValueInvalid:
        return PropertyValueInvalid(self.name, rule, value, explanation)

    def _scalar(self, value: Any, rules: Mapping[str, Any], kind: str, *, whole: Any = None) -> Any:
        """Check one value of type ``kind`` against ``rules``; return it converted."""
        shown = value if whole is None else whole
        if kind in ("integer", "number", "boolean"):
            try:
                converted = _convert(value, kind)
            except (ValueError, TypeError):
                raise self._fail("type", shown, f"expected {_article(kind)}") from None
        elif kind == "object":
            converted = _object(value)
            if converted is None:
                raise self._fail("type", shown, "expected a JSON object")
        elif kind == "string":
            if not isinstance(value, str):
                raise self._fail("type", shown, "expected a string")
            converted = value
        else:  # null or an unknown type: any string
            if not isinstance(value, str):
                raise self._fail("type", shown, "expected a string")
            converted = value
        self._check_enum(converted, rules, kind, shown)
        if kind in ("integer", "number"):
            self._check_range(converted, rules, shown)
        if kind == "string":
            self._check_text(converted, rules, shown)
        return converted

    def _check_enum(self, converted: Any, rules: Mapping[str, Any], kind: str, shown: Any) -> None:
        allowed = rules.get("enum")
        if not isinstance(allowed, list) or not allowed:
            return
        choices = []
        for choice in allowed:
            try:
                choices.append(_convert(choice, kind) if kind in ("integer", "number", "boolean") else choice)
            except (ValueError, TypeError):
                continue
        if converted not in choices:
            listed = ", ".join(json.dumps(c) if not isinstance(c, str) else c for c in allowed)
            raise self._fail("enum", shown, f"must be one of {listed}")

    def _check_range(self, number: float, rules: Mapping[str, Any], shown: Any) -> None:
        low, high = rules.get("minimum"), rules.get("maximum")
        if isinstance(low, (int, float)) and not isinstance(low, bool) and number < low:
            raise self._fail("minimum", shown, f"must be at least {low}")
        if isinstance(high, (int, float)) and not isinstance(high, bool) and number > high:
            raise self._fail("maximum", shown, f"must be at most {high}")

    def _check_text(self, text: str, rules: Mapping[str, Any], shown: Any) -> None:
        shortest, longest = rules.get("minLength"), rules.get("maxLength")
        if isinstance(shortest, int) and len(text) < shortest:
            raise self._fail("minLength", shown, f"must be at least {shortest} characters long")
        if isinstance(longest, int) and len(text) > longest:
            raise self._fail("maxLength", shown, f"must be at most {longest} characters long")
        pattern = rules.get("pattern")
        if isinstance(pattern, str):
            try:
                matched = re.search(pattern, text) is not None
            except re.error:
                matched = True  # the catalog refuses bad patterns; one loaded otherwise constrains nothing
            if not matched:
                raise self._fail("pattern", shown, f"must match the pattern {pattern}")

    def _array(self, value: Any) -> str:
        items = _list(value)
        if items is None:
            raise self._fail("type", value, "expected an array (a JSON list, or comma-separated text)")
        item_rules, item_kind = _item_rules(self.definition)
        converted = [self._scalar(item, item_rules, item_kind, whole=value) for item in items]
        self._check_count(converted, value)
        return json.dumps(converted, ensure_ascii=False)

    def _check_count(self, converted: list[Any], shown: Any) -> None:
        fewest, most = self.definition.get("minItems"), self.definition.get("maxItems")
        if isinstance(fewest, int) and len(converted) < fewest:
            raise self._fail("minItems", shown, f"needs at least {fewest} items")
        if isinstance(most, int) and len(converted) > most:
            raise self._fail("maxItems", shown, f"takes at most {most} items")
        if self.definition.get("uniqueItems") and len({json.dumps(c) for c in converted}) != len(converted):
            raise self._fail("uniqueItems", shown, "items must be unique")

    def _with_operator(self, value: str, operators: list[str]) -> str:
        """``<or> a <or> b`` or ``<all-in> a b``: each operand is checked as one item."""
        match = _OPERATOR.match(value)
        assert match is not None
        operator = match.group(1)
        if operator not in operators:
            raise self._fail("operators", value, f"the operator must be one of {', '.join(operators)}")
        rest = value[match.end():]
        operands = [p.strip() for p in rest.split(operator)] if operator == "<or>" else rest.split()
        operands = [p for p in operands if p]
        if not operands:
            raise self._fail("operators", value, f"{operator} needs at least one operand")
        if self.type == "array":
            item_rules, item_kind = _item_rules(self.definition)
        else:
            item_rules, item_kind = dict(self.definition), self.type
        rendered = [_render(self._scalar(p, item_rules, item_kind, whole=value)) for p in operands]
        if operator == "<or>":
            return " ".join(f"<or> {p}" for p in rendered)
        return " ".join([operator, *rendered])

    # -- the image schema
    def advertised(self, *, strict: bool, nullable: bool = False) -> dict[str, Any]:
        """This property in ``/v2/schemas/image``.

        Validation keywords admit everything the server accepts (a string that
        parses, or the JSON type), so schema-validating clients never refuse
        valid input or a body the server returns. With ``strict`` (every stored
        value conforms) the string form is constrained too; otherwise only the
        ``metadef`` annotation carries the rules. ``nullable`` admits ``null``.
        """
        kind = self.type
        document: dict[str, Any] = {}
        for key in ("title", "description"):
            if isinstance(self.definition.get(key), str):
                document[key] = self.definition[key]
        types: list[str] = ["string"] if kind in ("string", "null") else ["string", kind]
        if nullable:
            types.append("null")
        document["type"] = types[0] if len(types) == 1 else types
        rules = self.definition
        if kind in ("integer", "number"):
            document.update({k: rules[k] for k in ("minimum", "maximum") if _is_number(rules.get(k))})
        if kind == "array":
            item_rules, item_kind = _item_rules(rules)
            items: dict[str, Any] = {"type": "string" if item_kind == "string" else ["string", item_kind]}
            if item_kind == "string" and isinstance(item_rules.get("enum"), list):
                items["enum"] = list(item_rules["enum"])
            document["items"] = items
            document.update({k: rules[k] for k in ("minItems", "maxItems", "uniqueItems") if k in rules})
        if strict and not rules.get("operators"):
            if kind == "string":
                document.update({k: rules[k] for k in ("enum", "pattern", "minLength", "maxLength") if k in rules})
            elif kind in _TEXT_PATTERNS:
                document["pattern"] = _TEXT_PATTERNS[kind]
        if self.readonly:
            document["readOnly"] = True
        document["is_base"] = False
        document["metadef"] = self.annotation()
        return document

    def annotation(self) -> dict[str, Any]:
        """Where the definition comes from and every rule it sets, for schema-reading clients."""
        note: dict[str, Any] = {"namespace": self.namespace, "name": self.source_name, "type": self.type}
        if self.prefix:
            note["prefix"] = self.prefix
        if self.object_name:
            note["object"] = self.object_name
        note.update({k: self.definition[k] for k in CONSTRAINT_KEYS if k in self.definition})
        return note


def _item_rules(definition: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """An array definition's ``items`` rules and item type (``string`` unless given)."""
    rules = definition.get("items")
    if not isinstance(rules, dict):
        return {}, "string"
    kind = rules.get("type")
    return rules, kind if isinstance(kind, str) else "string"


def _article(kind: str) -> str:
    return {"integer": "an integer", "number": "a number", "boolean": "a boolean (true or false)"}[kind]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _convert(value: Any, kind: str) -> Any:
    """``value`` as a Python ``int``/``float``/``bool``; ``ValueError`` if it is not one."""
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        raise ValueError(value)
    if isinstance(value, bool):
        raise ValueError(value)
    if kind == "integer":
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.match(INTEGER_TEXT, value):
            return int(value.strip())
        raise ValueError(value)
    if isinstance(value, (int, float)):
        number = float(value) if isinstance(value, float) else value
    elif isinstance(value, str) and re.match(NUMBER_TEXT, value):
        number = float(value.strip())
    else:
        raise ValueError(value)
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(value)
    return number


def _render(value: Any) -> str:
    """The canonical string of a converted scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("["):
        try:
            decoded = json.loads(text)
        except ValueError:
            return None
        return decoded if isinstance(decoded, list) else None
    return [part.strip() for part in text.split(",") if part.strip()] if text else []


def _object(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return None
        return decoded if isinstance(decoded, dict) else None
    return None
