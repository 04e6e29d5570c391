"""What each ``glimpse`` subcommand does, given a ``Client`` and the parsed arguments."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from glimpseclient._client import Client
from glimpseclient._exceptions import ConfigurationError, GlimpseClientError
from glimpseclient._output import human_size, record, records
from glimpseclient._progress import ProgressBar
from glimpseclient._uploads import Progress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

IMAGE_COLUMNS = [("id", "ID"), ("name", "Name"), ("status", "Status"), ("disk_format", "Disk"),
                 ("size", "Size"), ("visibility", "Visibility")]
MEMBER_COLUMNS = [("image_id", "Image ID"), ("member_id", "Member ID"), ("status", "Status")]
TASK_COLUMNS = [("id", "ID"), ("type", "Type"), ("status", "Status"), ("owner", "Owner")]

Command = Callable[[Client, argparse.Namespace], int]
MiB = 1024 * 1024


def _list(args: argparse.Namespace, rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> None:
    records(rows, columns, args.format, sys.stdout, select=args.column)


def _out(args: argparse.Namespace, item: dict[str, Any]) -> int:
    record(item, args.format, sys.stdout, select=args.column)
    return 0


def _properties(pairs: list[str] | None) -> dict[str, str]:
    result = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--property expects KEY=VALUE, got {pair!r}")
        result[key] = value
    return result


@contextmanager
def _progress(args: argparse.Namespace, label: str) -> Iterator[Progress | None]:
    """A progress bar on stderr when it is a terminal (and not switched off)."""
    if args.no_progress or not sys.stderr.isatty():
        yield None
        return
    bar = ProgressBar(sys.stderr, label)
    try:
        yield bar
    finally:
        bar.finish()


def _source(args: argparse.Namespace) -> Any:
    return sys.stdin.buffer if args.file == "-" else args.file


# -- images -------------------------------------------------------------------------------------

def image_list(client: Client, args: argparse.Namespace) -> int:
    filters: dict[str, Any] = _properties(args.property)
    for name in ("name", "status", "visibility", "owner", "member_status", "disk_format", "container_format"):
        if getattr(args, name):
            filters[name] = getattr(args, name)
    if args.hidden:
        filters["os_hidden"] = True
    images = client.images.list(limit=args.limit, tags=args.tag or (), sort=args.sort, **filters)
    rows = [image.raw for image in images]
    if args.format not in ("json", "yaml") and not args.bytes:
        rows = [{**row, "size": human_size(row.get("size")) if row.get("size") is not None else ""} for row in rows]
    _list(args, rows, IMAGE_COLUMNS)
    return 0


def image_show(client: Client, args: argparse.Namespace) -> int:
    return _out(args, client.images.get(args.image).raw)


def image_create(client: Client, args: argparse.Namespace) -> int:
    fields: dict[str, Any] = _properties(args.property)
    for name in ("id", "name", "disk_format", "container_format", "visibility", "min_ram", "min_disk"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.protected is not None:
        fields["protected"] = args.protected
    if args.tag:
        fields["tags"] = args.tag
    image = client.images.create(**fields)
    if args.file:
        try:
            with _progress(args, "upload") as progress:
                client.images.upload(image.id, _source(args), size=args.size, progress=progress, store=args.store)
        except GlimpseClientError as exc:
            exc.message = f"image {image.id} was created, but its upload failed: {exc.message}"
            exc.args = (exc.message,)
            raise
        image = client.images.get(image.id)
    return _out(args, image.raw)


def image_upload(client: Client, args: argparse.Namespace) -> int:
    with _progress(args, "upload") as progress:
        if args.stage:
            client.images.stage(args.image, _source(args), size=args.size, progress=progress)
        else:
            client.images.upload(args.image, _source(args), size=args.size, progress=progress, store=args.store)
    return 0


def image_import(client: Client, args: argparse.Namespace) -> int:
    """Start an import (staging ``--file`` first for glance-direct); with ``--wait`` follow its task."""
    if args.file is not None:
        if args.method != "glance-direct":
            raise ConfigurationError("--file stages data, which only the glance-direct method imports")
        with _progress(args, "stage") as progress:
            client.images.stage(args.image, _source(args), size=args.size, progress=progress)
    remote = {name: value for name, value in (("glance_region", args.remote_region),
                                              ("glance_image_id", args.remote_image_id),
                                              ("glance_service_interface", args.remote_service_interface))
              if value is not None}
    if remote and args.method != "glance-download":
        raise ConfigurationError("--remote-region, --remote-image-id and --remote-service-interface are for "
                                 "--method glance-download")
    known = [t.id for t in client.images.tasks(args.image)] if args.wait else []
    client.images.import_image(args.image, args.method, uri=args.uri, stores=args.store or None,
                               all_stores=args.all_stores or None,
                               all_stores_must_succeed=False if args.allow_failures else None, **remote)
    if not args.wait:
        return 0
    task = client.images.wait_for_task(args.image, known=known, timeout=args.timeout)
    if task.status != "success":
        print(f"import of image {args.image} failed: {task.message}", file=sys.stderr)
        return 1
    return _out(args, client.images.get(args.image).raw)


def image_download(client: Client, args: argparse.Namespace) -> int:
    destination = args.file or "-"
    if destination == "-" and sys.stdout.isatty():
        raise ConfigurationError("refusing to write image data to a terminal; give --file PATH or redirect stdout")
    with _progress(args, "download") as progress:
        with client.images.download(args.image, progress=progress, verify=not args.no_verify,
                                    verify_checksum=args.verify_checksum) as download:
            if destination == "-":
                download.save(sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                download.save(destination)
    return 0


def image_update(client: Client, args: argparse.Namespace) -> int:
    changes: dict[str, Any] = _properties(args.property)
    for name in ("name", "disk_format", "container_format", "visibility", "min_ram", "min_disk"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.protected is not None:
        changes["protected"] = args.protected
    if args.hidden is not None:
        changes["os_hidden"] = args.hidden
    image = client.images.update(args.image, set=changes, remove=args.remove_property or ())
    return _out(args, image.raw)


def image_delete(client: Client, args: argparse.Namespace) -> int:
    for image_id in args.images:
        client.images.delete(image_id)
    return 0


def image_tag(client: Client, args: argparse.Namespace) -> int:
    for tag in args.tags:
        client.images.add_tag(args.image, tag)
    return 0


def image_untag(client: Client, args: argparse.Namespace) -> int:
    for tag in args.tags:
        client.images.remove_tag(args.image, tag)
    return 0


def image_deactivate(client: Client, args: argparse.Namespace) -> int:
    client.images.deactivate(args.image)
    return 0


def image_reactivate(client: Client, args: argparse.Namespace) -> int:
    client.images.reactivate(args.image)
    return 0


def image_tasks(client: Client, args: argparse.Namespace) -> int:
    _list(args, [t.raw for t in client.images.tasks(args.image)], TASK_COLUMNS)
    return 0


# -- members ------------------------------------------------------------------------------------

def member_list(client: Client, args: argparse.Namespace) -> int:
    _list(args, [m.raw for m in client.members.list(args.image)], MEMBER_COLUMNS)
    return 0


def member_show(client: Client, args: argparse.Namespace) -> int:
    return _out(args, client.members.get(args.image, args.member).raw)


def member_create(client: Client, args: argparse.Namespace) -> int:
    return _out(args, client.members.create(args.image, args.member).raw)


def member_update(client: Client, args: argparse.Namespace) -> int:
    return _out(args, client.members.update(args.image, args.member, args.status).raw)


def member_delete(client: Client, args: argparse.Namespace) -> int:
    client.members.delete(args.image, args.member)
    return 0


# -- schemas, info, tasks -----------------------------------------------------------------------

def schema_show(client: Client, args: argparse.Namespace) -> int:
    document = client.schemas.get(args.name)
    if args.format in ("json", "yaml"):
        return _out(args, document)
    properties = document.get("properties", {})
    rows = [{"name": name, "type": spec.get("type"), "description": spec.get("description", "")}
            for name, spec in sorted(properties.items()) if isinstance(spec, dict)]
    _list(args, rows, [("name", "Property"), ("type", "Type"), ("description", "Description")])
    return 0


def info_versions(client: Client, args: argparse.Namespace) -> int:
    def number(version_id: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version_id.lstrip("v").split(".") if part.isdigit())

    versions = sorted(client.versions(), key=lambda v: number(v.id), reverse=True)
    rows = [{"id": v.id, "status": v.status, "links": v.links} for v in versions]
    _list(args, rows, [("id", "Version"), ("status", "Status"), ("links", "Links")])
    return 0


def info_endpoints(client: Client, args: argparse.Namespace) -> int:
    return _out(args, client.endpoints.as_dict())


def info_import(client: Client, args: argparse.Namespace) -> int:
    rows = [{"method": m} for m in client.info.import_methods()]
    _list(args, rows, [("method", "Import method")])
    return 0


def info_stores(client: Client, args: argparse.Namespace) -> int:
    rows = [s.raw for s in client.info.stores(detail=args.detail)]
    _list(args, rows, [("id", "ID"), ("description", "Description"), ("default", "Default")])
    return 0


#: Quota resources the Images API reports in MiB.
_SIZED_RESOURCES = ("image_size_total", "image_stage_total")


def info_usage(client: Client, args: argparse.Namespace) -> int:
    """Quota usage: sizes in human units (``--bytes``: in bytes); JSON and YAML as the API gives them (MiB)."""
    usage = client.info.usage()
    if args.format in ("json", "yaml") and not args.column:
        return _out(args, usage)
    rows = []
    for resource, figures in sorted(usage.items()):
        row = {"resource": resource, "usage": figures.get("usage"), "limit": figures.get("limit")}
        if resource in _SIZED_RESOURCES:
            for key in ("usage", "limit"):
                value = row[key]
                if isinstance(value, int) and value >= 0:
                    row[key] = value * MiB if args.bytes else human_size(value * MiB)
        if row["limit"] == -1:
            row["limit"] = "unlimited"
        rows.append(row)
    _list(args, rows, [("resource", "Resource"), ("usage", "Used"), ("limit", "Limit")])
    return 0


def task_list(client: Client, args: argparse.Namespace) -> int:
    filters = {k: v for k, v in (("status", args.status), ("type", args.type)) if v}
    _list(args, [t.raw for t in client.tasks.list(limit=args.limit, **filters)], TASK_COLUMNS)
    return 0


def task_show(client: Client, args: argparse.Namespace) -> int:
    return _out(args, client.tasks.get(args.task).raw)


def namespace_list(client: Client, args: argparse.Namespace) -> int:
    rows = [n.raw for n in client.metadefs.list_namespaces(limit=args.limit)]
    _list(args, rows, [("namespace", "Namespace"), ("display_name", "Display name"), ("visibility", "Visibility")])
    return 0


def namespace_show(client: Client, args: argparse.Namespace) -> int:
    return _out(args, client.metadefs.get_namespace(args.namespace).raw)
