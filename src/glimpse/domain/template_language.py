"""The template language of ``user_data``: Jinja2 in a sandbox, with every value a safe YAML scalar.

What a template may do is decided twice. When it is stored, :func:`compile_template`
parses it and refuses (with the line and the reason) syntax errors, any
variable that is not a declared parameter, names starting with ``_`` (the way
into Python internals), macros, ``call`` blocks, imports and includes, loops
nested deeper than :data:`MAX_LOOP_DEPTH`, filters outside a short list, and
templates over :data:`MAX_TEMPLATE_SIZE`. When it is rendered, Jinja2's
``SandboxedEnvironment`` checks every attribute access and call,
``StrictUndefined`` refuses anything undefined, repetition (``*``), powers,
concatenation and string methods are bounded before they allocate, and the
output and the time spent are capped.

Every ``{{ expression }}`` becomes a YAML double-quoted scalar (quotes,
newlines, ``#``, ``&``, ``*``, ``: `` and leading ``-`` survive intact). Two
filters produce text for other places: ``line`` (the value as it is, inside a
block scalar; line breaks and control characters are refused) and ``shell``
(a shell-quoted word on one line). :func:`structure_of` is the second view:
the service renders once with the values and once with neutral stand-ins and
refuses a result whose YAML structure differs, so no value can add keys or
items whatever filter it went through.
"""

from __future__ import annotations

import email
import math
import shlex
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import SandboxedEnvironment

#: Largest ``user_data`` template, in characters.
#: Below the 65,535-byte cap on any string of a request body, so a too-long template hears this rule.
MAX_TEMPLATE_SIZE = 60 * 1024
#: Largest rendered output, in characters (Nova accepts 64 KiB of base64 user data).
MAX_OUTPUT_SIZE = 48 * 1024
#: Largest string or list any single operation may produce.
MAX_VALUE_SIZE = MAX_OUTPUT_SIZE
#: Longest a rendering may take, in seconds.
MAX_RENDER_SECONDS = 2.0
MAX_LOOP_DEPTH = 3
#: Filters a template may use (plus ``line``, ``shell`` and ``yaml``).
SAFE_FILTERS = ("abs", "capitalize", "default", "d", "first", "float", "int", "join", "last", "length", "count",
                "list", "lower", "upper", "max", "min", "reject", "rejectattr", "select", "selectattr", "sort",
                "string", "sum", "title", "trim", "unique", "map", "round", "dictsort",
                "items", "wordcount")
#: Methods a template may call on values.
SAFE_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split",
                          "title", "capitalize", "items", "keys", "values", "get", "isdigit", "count"})
_FORBIDDEN_NODES: dict[type[nodes.Node], str] = {
    nodes.Macro: "macros are not supported",
    nodes.CallBlock: "call blocks are not supported",
    nodes.Import: "imports are not supported",
    nodes.FromImport: "imports are not supported",
    nodes.Include: "includes are not supported",
    nodes.Extends: "template inheritance is not supported",
    nodes.Block: "blocks are not supported",
    nodes.ExprStmt: "the 'do' statement is not supported",
}


class TemplateRejected(ValueError):
    """A template that cannot be stored: ``line`` (1-based, or ``None``) and ``reason``."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.reason = reason
        self.line = line


class RenderFailed(ValueError):
    """A rendering that could not complete: ``reason`` (never includes parameter values)."""

    def __init__(self, reason: str, kind: str = "limit") -> None:
        super().__init__(reason)
        self.reason = reason
        #: ``line`` when a value has a line break where none may be, else what was exceeded
        self.kind = kind


class Verbatim(str):
    """Text a filter made safe for its own place; output as it is."""


def yaml_scalar(value: Any) -> str:
    """``value`` as one YAML flow scalar: strings double-quoted and escaped, numbers and booleans plain.

    Lists and mappings become flow collections of such scalars; anything else (a function, an
    undefined value) raises :class:`RenderFailed`.
    """
    _check_plain(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else '"' + repr(value) + '"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{yaml_scalar(k)}: {yaml_scalar(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_scalar(item) for item in value) + "]"
    text = yaml.safe_dump(str(value), default_style='"', width=math.inf, allow_unicode=True)
    return text.rstrip("\n").removesuffix("\n...").rstrip("\n")


def _check_plain(value: Any, depth: int = 0) -> None:
    if depth > 8:
        raise RenderFailed("a value is nested too deeply to output")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, depth + 1)
            _check_plain(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_plain(item, depth + 1)
    elif not (value is None or type(value) in (str, bool, int, float, Verbatim)):
        raise RenderFailed(f"cannot output a value of type {type(value).__name__}")


def _line(value: Any) -> Verbatim:
    _check_plain(value)
    text = "" if value is None else str(value)
    if any(ord(c) < 32 or ord(c) == 127 or c in "\u2028\u2029\x85" for c in text):
        raise RenderFailed("contains a line break or control character, which cannot be used here", "line")
    return Verbatim(text)


def _shell(value: Any) -> Verbatim:
    return Verbatim(shlex.quote(_line(value)))


def _join(value: Any, separator: str = "", attribute: Any = None) -> str:
    """Jinja's ``join``, refusing before it allocates a result over :data:`MAX_VALUE_SIZE`."""
    items = [str(item.get(attribute) if attribute is not None and isinstance(item, dict) else item)
             for item in (value or [])]
    if sum(len(i) for i in items) + len(str(separator)) * max(len(items) - 1, 0) > MAX_VALUE_SIZE:
        raise RenderFailed(f"a join would exceed {MAX_VALUE_SIZE} characters")
    return str(separator).join(items)


def _yaml(value: Any) -> Verbatim:
    return Verbatim(yaml_scalar(value))


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to a bounded join, so concatenation cannot build unbounded strings."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class TemplateEnvironment(SandboxedEnvironment):
    """The sandbox: no globals, a short list of filters, bounded operators and a deadline."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%", "//", "/"})
    intercepted_unops = frozenset()

    def __init__(self, finalize: Callable[[Any], Any]) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, finalize=finalize, keep_trailing_newline=True,
                         auto_reload=False, cache_size=0)
        self.globals.clear()
        self.filters = {name: self.filters[name] for name in SAFE_FILTERS if name in self.filters}
        self.filters.update(line=_line, shell=_shell, yaml=_yaml, join=_join)
        self.deadline = math.inf

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderFailed(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")

    def bounded_concat(self, parts: tuple[Any, ...]) -> str:
        self.tick()
        texts = [str(p) for p in parts]
        if sum(len(t) for t in texts) > MAX_VALUE_SIZE:
            raise RenderFailed(f"a concatenation would exceed {MAX_VALUE_SIZE} characters")
        return "".join(texts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.tick()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                    if len(seq) * max(times, 0) > MAX_VALUE_SIZE:
                        raise RenderFailed(f"a repetition would exceed {MAX_VALUE_SIZE} items")
        if operator == "**" and isinstance(right, (int, float)) and isinstance(left, (int, float)):
            if abs(right) > 64 or (abs(left) > 1 and abs(right) * math.log2(abs(left) + 1) > 256):
                raise RenderFailed("a power is too large")
        if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            if len(left) + len(right) > MAX_VALUE_SIZE:
                raise RenderFailed(f"a concatenation would exceed {MAX_VALUE_SIZE} items")
        if operator == "%" and isinstance(left, str):
            raise RenderFailed("string formatting with '%' is not supported; use '~' to join text")
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> None:
        """``str.format`` pads to any width it is asked for: never hand it out."""
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_"):
            return False
        if callable(value) and attr not in SAFE_METHODS:
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's signature)
        __self.tick()
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, (str, list, tuple)) and len(result) > MAX_VALUE_SIZE:
            raise RenderFailed(f"a value would exceed {MAX_VALUE_SIZE} items")
        return result


def _quote(value: Any) -> Any:
    return value if isinstance(value, Verbatim) else yaml_scalar(value)


#: What a YAML-quoted output becomes in a neutral rendering (so it can be found again).
QUOTED_STAND_IN = '"glimpse-yaml-scalar"'


def _neutral(value: Any) -> Any:
    return "x" if isinstance(value, Verbatim) else QUOTED_STAND_IN


#: Parses and compiles at store time; renderings get an environment each (the deadline is theirs).
_QUOTING = TemplateEnvironment(_quote)


def compile_template(source: Any, parameters: Mapping[str, Any]) -> None:
    """Check ``source`` as a ``user_data`` template whose variables are ``parameters``' names.

    Raises :class:`TemplateRejected` with the line and the reason.
    """
    if not isinstance(source, str):
        raise TemplateRejected("user_data must be a string")
    if len(source) > MAX_TEMPLATE_SIZE:
        raise TemplateRejected(f"user_data is {len(source)} characters; at most {MAX_TEMPLATE_SIZE} are allowed")
    try:
        tree = _QUOTING.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateRejected(exc.message or "syntax error", exc.lineno) from None
    _check_tree(tree, depth=0)
    try:
        undeclared = find_undeclared_variables(tree)
        _QUOTING.from_string(tree)
    except TemplateSyntaxError as exc:  # an unknown filter or test
        raise TemplateRejected(exc.message or "cannot compile", exc.lineno) from None
    for name in sorted(undeclared):
        if name not in parameters:
            raise TemplateRejected(f"'{name}' is not a declared parameter", _first_use(tree, name))


def _check_tree(node: nodes.Node, depth: int) -> None:
    for kind, reason in _FORBIDDEN_NODES.items():
        if isinstance(node, kind):
            raise TemplateRejected(reason, node.lineno)
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        raise TemplateRejected(f"attribute '{node.attr}' is not accessible", node.lineno)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and \
            isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
        raise TemplateRejected(f"item '{node.arg.value}' is not accessible", node.lineno)
    if isinstance(node, nodes.Name) and node.name.startswith("_"):
        raise TemplateRejected(f"name '{node.name}' is not accessible", node.lineno)
    if isinstance(node, nodes.For):
        depth += 1
        if depth > MAX_LOOP_DEPTH:
            raise TemplateRejected(f"loops may be nested at most {MAX_LOOP_DEPTH} deep", node.lineno)
    for child in node.iter_child_nodes():
        _check_tree(child, depth)


def _first_use(tree: nodes.Template, name: str) -> int | None:
    for found in tree.find_all(nodes.Name):
        if found.name == name and found.ctx == "load":
            return int(found.lineno)
    return None


def render(source: str, values: Mapping[str, Any], *, neutral: bool = False) -> str:
    """``source`` rendered with ``values`` (every value a YAML scalar unless a filter says otherwise).

    With ``neutral`` every output is a stand-in (:data:`QUOTED_STAND_IN`, or ``x`` for filtered text): the
    same document with values that cannot change its structure. Raises :class:`RenderFailed`.
    """
    environment = TemplateEnvironment(_neutral if neutral else _quote)
    try:
        template: Template = environment.from_string(source)
    except TemplateError as exc:
        raise RenderFailed(f"the template does not compile: {exc.message}") from None
    environment.deadline = time.monotonic() + MAX_RENDER_SECONDS
    try:
        return _collect(template.generate(dict(values)))
    except RenderFailed:
        raise
    except UndefinedError as exc:
        raise RenderFailed(f"undefined value: {exc.message}") from None
    except SecurityError as exc:
        raise RenderFailed(f"refused by the sandbox: {exc.message}") from None
    except RecursionError:
        raise RenderFailed("the template recursed too deeply") from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, OverflowError) as exc:
        raise RenderFailed(f"the template failed: {exc.__class__.__name__}") from None


def _collect(chunks: Iterator[str]) -> str:
    collected: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT_SIZE:
            raise RenderFailed(f"the rendered user data would exceed {MAX_OUTPUT_SIZE} characters")
        collected.append(chunk)
    return "".join(collected)


def document_structure(text: str) -> Any:
    """The structure of a rendered user-data document: of its YAML for ``#cloud-config``; for MIME
    multipart, each part's content type and, for ``text/cloud-config`` parts, their YAML structure.

    Raises ``ValueError`` (or ``yaml.YAMLError``) for a document that is neither.
    """
    if text.startswith("#cloud-config"):
        return structure_of(yaml.safe_load(text))
    message = email.message_from_string(text)
    if not message.is_multipart():
        raise ValueError("neither #cloud-config nor MIME multipart")
    shapes: list[Any] = [message.get_content_type()]
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        kind = part.get_content_type()
        shapes.append((kind, structure_of(yaml.safe_load(content)) if kind == "text/cloud-config" else None))
    return tuple(shapes)


def misquoted_parts(neutral: str) -> list[str]:
    """Content types of the MIME parts, other than cloud-config, where a neutral rendering has a
    YAML-quoted value: there (a shell script, say) only ``line``/``shell`` output is safe."""
    if neutral.startswith("#cloud-config"):
        return []
    found = []
    for part in email.message_from_string(neutral).walk():
        payload = part.get_payload(decode=True)
        if part.is_multipart() or part.get_content_type() == "text/cloud-config" or not isinstance(payload, bytes):
            continue
        if QUOTED_STAND_IN in payload.decode("utf-8", "replace"):
            found.append(part.get_content_type())
    return found


def structure_of(document: Any) -> Any:
    """The shape of a parsed YAML document: mappings, sequences and where scalars are, not their values."""
    if isinstance(document, dict):
        return ("map", tuple((structure_of(k), structure_of(v)) for k, v in document.items()))
    if isinstance(document, list):
        return ("seq", tuple(structure_of(v) for v in document))
    return "scalar"
