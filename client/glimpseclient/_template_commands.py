"""What each ``glimpse template`` subcommand does, given a ``Client`` and the parsed arguments."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from glimpseclient._client import Client
from glimpseclient._exceptions import ConfigurationError
from glimpseclient._models import Template
from glimpseclient._output import record, records

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

TEMPLATE_COLUMNS = [("id", "ID"), ("name", "Name"), ("version", "Version"), ("visibility", "Visibility"),
                    ("deprecated", "Deprecated"), ("image_id", "Image ID")]
PARAMETER_COLUMNS = [("name", "Name"), ("type", "Type"), ("required", "Required"), ("default", "Default"),
                     ("title", "Title")]


def _read(name: str) -> str:
    try:
        with open(name, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {name}: {exc.strerror}") from None


def _json_file(name: str, what: str) -> Any:
    try:
        return json.loads(_read(name))
    except ValueError as exc:
        raise ConfigurationError(f"{name} is not a JSON {what}: {exc}") from None


def template_list(client: Client, args: argparse.Namespace) -> int:
    found = client.templates.list(limit=args.limit, all_versions=args.all_versions, name=args.name,
                                  version=args.version, visibility=args.visibility, tag=args.tag)
    records([t.raw for t in found], TEMPLATE_COLUMNS, args.format, sys.stdout)
    return 0


def template_show(client: Client, args: argparse.Namespace) -> int:
    record(client.templates.get(args.template).raw, args.format, sys.stdout)
    return 0


def template_create(client: Client, args: argparse.Namespace) -> int:
    fields: dict[str, Any] = _json_file(args.file, "object") if args.file else {}
    for key in ("name", "version", "visibility", "description"):
        if getattr(args, key) is not None:
            fields[key] = getattr(args, key)
    if args.image is not None:
        fields["image_id"] = args.image
    if args.user_data_file is not None:
        fields["user_data"] = _read(args.user_data_file)
    if args.parameters_file is not None:
        fields["parameters"] = _json_file(args.parameters_file, "object")
    if args.tag:
        fields["tags"] = args.tag
    record(client.templates.create(**fields).raw, args.format, sys.stdout)
    return 0


def template_update(client: Client, args: argparse.Namespace) -> int:
    operations: list[dict[str, Any]] = []
    for key in ("deprecated", "protected", "visibility"):
        if getattr(args, key) is not None:
            operations.append({"op": "replace", "path": f"/{key}", "value": getattr(args, key)})
    if args.tag is not None:
        operations.append({"op": "replace", "path": "/tags", "value": args.tag})
    content = {"image_id": args.image, "description": args.description,
               "user_data": _read(args.user_data_file) if args.user_data_file else None,
               "parameters": _json_file(args.parameters_file, "object") if args.parameters_file else None}
    operations += [{"op": "replace", "path": f"/{k}", "value": v} for k, v in content.items() if v is not None]
    if args.new_version:
        operations.append({"op": "replace", "path": "/version", "value": args.new_version})
    if not operations:
        raise ConfigurationError("nothing to change: give --deprecated, --visibility, --new-version, ...")
    record(client.templates.update(args.template, operations).raw, args.format, sys.stdout)
    return 0


def template_delete(client: Client, args: argparse.Namespace) -> int:
    client.templates.delete(args.template)
    return 0


def template_parameters(client: Client, args: argparse.Namespace) -> int:
    if args.format == "json":
        record(client.templates.parameters_schema(args.template), "json", sys.stdout)
        return 0
    template = client.templates.get(args.template)
    rows = [{"name": name, "type": d.get("type"), "required": bool(d.get("required")),
             "default": "(secret)" if d.get("secret") else d.get("default", ""), "title": d.get("title", "")}
            for name, d in template.parameters.items()]
    records(rows, PARAMETER_COLUMNS, "table", sys.stdout)
    return 0


def template_render(client: Client, args: argparse.Namespace) -> int:
    values: dict[str, Any] = {}
    if args.param_file:
        loaded = _json_file(args.param_file, "object")
        if not isinstance(loaded, dict):
            raise ConfigurationError(f"{args.param_file} must hold a JSON object of parameter values")
        values.update(loaded)
    for pair in args.param or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigurationError(f"--param expects NAME=VALUE, got {pair!r}")
        values[name] = value
    if sys.stdin.isatty() and not args.no_prompt:
        _prompt_missing(client.templates.get(args.template), values, sys.stderr)
    rendering = client.templates.render(args.template, values, heat=args.heat)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.user_data_only and not args.heat:
            out.write(rendering["cloud_config"])
        else:
            json.dump(rendering if args.heat else {"server": rendering["server"]}, out, indent=2)
            out.write("\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _prompt_missing(template: Template, values: dict[str, Any], err: TextIO) -> None:
    """Ask on the terminal for each required parameter not given; secrets are read without echo."""
    for name in template.required_parameters():
        if name in values:
            continue
        definition = template.parameters[name]
        label = f"{definition.get('title') or name} ({name}, {definition.get('type', 'string')}): "
        if definition.get("secret"):
            values[name] = getpass.getpass(label, stream=err)
        else:
            err.write(label)
            err.flush()
            values[name] = sys.stdin.readline().rstrip("\n")
