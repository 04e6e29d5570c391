"""The ``glimpse`` command: argparse parser, configuration from options and ``OS_*``, exit codes.

Exit codes: 0 success; 1 the service refused (an ``APIError``: 4xx/5xx, or
an image without data); 2 bad usage, configuration or a local file that cannot
be read or written; 3 the service could not
be reached (connection, timeout, redirect); 4 the data failed verification
(size or checksum); 130 interrupted. Errors are printed as one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from glimpseclient._client import Client

#: The output formats of :mod:`glimpseclient._output` (not imported here: --help stays instant).
FORMATS = ("table", "json", "yaml", "value", "csv")

#: Option destination -> the ``OS_*`` variable it overrides.
_ENV_OPTIONS = {
    "os_image_url": "OS_IMAGE_URL", "registry_url": "OS_IMAGE_REGISTRY_URL",
    "streaming_url": "OS_IMAGE_STREAMING_URL", "os_auth_token": "OS_AUTH_TOKEN", "os_auth_url": "OS_AUTH_URL",
    "os_auth_type": "OS_AUTH_TYPE", "os_username": "OS_USERNAME", "os_user_id": "OS_USER_ID",
    "os_password": "OS_PASSWORD", "os_user_domain_name": "OS_USER_DOMAIN_NAME",
    "os_user_domain_id": "OS_USER_DOMAIN_ID", "os_project_name": "OS_PROJECT_NAME",
    "os_project_id": "OS_PROJECT_ID", "os_project_domain_name": "OS_PROJECT_DOMAIN_NAME",
    "os_project_domain_id": "OS_PROJECT_DOMAIN_ID",
    "os_application_credential_id": "OS_APPLICATION_CREDENTIAL_ID",
    "os_application_credential_name": "OS_APPLICATION_CREDENTIAL_NAME",
    "os_application_credential_secret": "OS_APPLICATION_CREDENTIAL_SECRET", "os_interface": "OS_INTERFACE",
    "os_region_name": "OS_REGION_NAME", "os_roles": "OS_ROLES", "os_cacert": "OS_CACERT", "os_cert": "OS_CERT",
    "os_key": "OS_KEY",
}


def _bool_flag(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    group = parser.add_mutually_exclusive_group()
    dest = name.replace("-", "_")
    group.add_argument(f"--{name}", dest=dest, action="store_const", const=True, default=None, help=help_text)
    group.add_argument(f"--no-{name}", dest=dest, action="store_const", const=False, help=f"the opposite of --{name}")


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: str,
             help_text: str) -> argparse.ArgumentParser:
    child = sub.add_parser(name, help=help_text, description=help_text, parents=[_COMMON])
    child.set_defaults(handler=handler)
    return child


# -f after the subcommand works too; SUPPRESS keeps the global value unless given there.
_COMMON = argparse.ArgumentParser(add_help=False)
_FORMAT_HELP = "output format: table (default), json, yaml, value (values only) or csv"
_COLUMN_HELP = "print only this column or field (repeatable, in the order given; any field of the objects)"
_BYTES_HELP = "sizes as plain numbers of bytes instead of human units (KiB, MiB, ...)"
_COMMON.add_argument("-f", "--format", choices=FORMATS, default=argparse.SUPPRESS, help=_FORMAT_HELP)
_COMMON.add_argument("-c", "--column", action="append", default=argparse.SUPPRESS, metavar="COLUMN",
                     help=_COLUMN_HELP)
_COMMON.add_argument("--bytes", action="store_true", default=argparse.SUPPRESS, help=_BYTES_HELP)


def _image_commands(image: argparse.ArgumentParser) -> None:
    images = image.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = _command(images, "list", "image_list", "List images (all pages).")
    for name in ("name", "status", "visibility", "owner", "member-status", "disk-format", "container-format"):
        p.add_argument(f"--{name}", help=f"only images with this {name.replace('-', ' ')}")
    p.add_argument("--tag", action="append", help="only images with this tag (repeatable; all must match)")
    p.add_argument("--property", action="append", metavar="KEY=VALUE", help="only images with this property")
    p.add_argument("--hidden", action="store_true", help="list hidden (os_hidden) images instead")
    p.add_argument("--sort", help="sort keys and directions, e.g. name:asc,created_at:desc")
    p.add_argument("--limit", type=int, help="at most this many images")
    p = _command(images, "show", "image_show", "Show one image.")
    p.add_argument("image", help="image ID or name")
    p = _command(images, "create", "image_create", "Create an image, and upload its data with --file.")
    _image_fields(p)
    p.add_argument("--id", help="the new image's UUID")
    p.add_argument("--tag", action="append", help="a tag (repeatable)")
    _data_source(p, required=False)
    p = _command(images, "upload", "image_upload", "Upload data into a queued image.")
    p.add_argument("image", help="image ID or name")
    _data_source(p, required=True)
    p.set_defaults(stage=False)
    p = _command(images, "stage", "image_upload", "Stage data for the glance-direct import method.")
    p.add_argument("image", help="image ID or name")
    _data_source(p, required=True)
    p.set_defaults(stage=True)
    p = _command(images, "import", "image_import", "Start an import (glance-direct, web-download, copy-image, ...).")
    p.add_argument("image", help="image ID or name")
    p.add_argument("--method", default="glance-direct", help="import method (default glance-direct)")
    p.add_argument("--uri", help="source URI for web-download")
    p.add_argument("--store", action="append", help="target store (repeatable)")
    p.add_argument("--all-stores", action="store_true", help="import into every store")
    p.add_argument("--allow-failures", action="store_true",
                   help="keep the stores that succeeded when others fail (all_stores_must_succeed false)")
    p.add_argument("--file", help="stage this file ('-' for stdin) first, with progress (glance-direct)")
    p.add_argument("--size", type=int, help="size of the staged data, if --file cannot tell")
    p.add_argument("--wait", action="store_true", help="follow the import task; exit 1 if it fails")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds --wait waits (default 3600)")
    p = _command(images, "download", "image_download",
                 "Download image data, resuming after breaks and verifying it against os_hash_value.")
    p.add_argument("image", help="image ID or name")
    p.add_argument("--file", help="where to write (default: stdout); written as FILE.part until verified")
    p.add_argument("--verify-checksum", action="store_true",
                   help="check the MD5 checksum as well as os_hash_value (a second hash over every byte)")
    p.add_argument("--no-verify", action="store_true",
                   help="skip checking size and hashes (for measuring raw transfer speed)")
    p = _command(images, "update", "image_update", "Change image properties.")
    p.add_argument("image", help="image ID or name")
    _image_fields(p)
    _bool_flag(p, "hidden", "hide the image from default lists (os_hidden)")
    p.add_argument("--remove-property", action="append", metavar="KEY", help="remove a custom property")
    p = _command(images, "delete", "image_delete", "Delete images.")
    p.add_argument("images", nargs="+", metavar="image", help="image ID or name")
    p = _command(images, "tag", "image_tag", "Add tags to an image.")
    p.add_argument("image", help="image ID or name")
    p.add_argument("tags", nargs="+", metavar="tag")
    p = _command(images, "untag", "image_untag", "Remove tags from an image.")
    p.add_argument("image", help="image ID or name")
    p.add_argument("tags", nargs="+", metavar="tag")
    for name, text in (("deactivate", "Deactivate an image (its data cannot be downloaded)."),
                       ("reactivate", "Reactivate a deactivated image."),
                       ("tasks", "List the tasks that worked on an image.")):
        p = _command(images, name, f"image_{name}", text)
        p.add_argument("image", help="image ID or name")


def _member_commands(member: argparse.ArgumentParser) -> None:
    members = member.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = _command(members, "list", "member_list", "List an image's members.")
    p.add_argument("image", help="image ID or name")
    for name, text in (("show", "Show one member."), ("create", "Share an image with a project."),
                       ("delete", "Stop sharing an image with a project.")):
        p = _command(members, name, f"member_{name}", text)
        p.add_argument("image", help="image ID or name")
        p.add_argument("member", help="project ID of the member")
    p = _command(members, "update", "member_update", "Accept, reject or reset sharing (as the member project).")
    p.add_argument("image", help="image ID or name")
    p.add_argument("member", help="project ID of the member")
    p.add_argument("status", choices=["accepted", "rejected", "pending"])


def _schema_commands(schema: argparse.ArgumentParser) -> None:
    schemas = schema.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = _command(schemas, "show", "schema_show", "Show a schema (image, images, member, members, task, ...).")
    p.add_argument("name", nargs="?", default="image", help="schema name (default image)")


def _info_commands(info: argparse.ArgumentParser) -> None:
    infos = info.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _command(infos, "versions", "info_versions", "API versions from the version document.")
    _command(infos, "endpoints", "info_endpoints", "Where metadata (registry) and data (streaming) calls go.")
    _command(infos, "import", "info_import", "Enabled import methods.")
    p = _command(infos, "stores", "info_stores", "Configured stores.")
    p.add_argument("--detail", action="store_true", help="with type and properties (administrators)")
    _command(infos, "usage", "info_usage", "Quota usage.")


def _task_commands(task: argparse.ArgumentParser) -> None:
    tasks = task.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = _command(tasks, "list", "task_list", "List tasks.")
    p.add_argument("--status")
    p.add_argument("--type")
    p.add_argument("--limit", type=int)
    p = _command(tasks, "show", "task_show", "Show a task.")
    p.add_argument("task", help="task ID")


def _namespace_commands(namespace: argparse.ArgumentParser) -> None:
    namespaces = namespace.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = _command(namespaces, "list", "namespace_list", "List namespaces.")
    p.add_argument("--limit", type=int)
    p = _command(namespaces, "show", "namespace_show", "Show a namespace with its definitions.")
    p.add_argument("namespace")


def _template_commands(template: argparse.ArgumentParser) -> None:
    templates = template.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = _command(templates, "list", "template_list", "List templates (the latest version of each).")
    for name in ("name", "version", "visibility"):
        p.add_argument(f"--{name}", help=f"only templates with this {name}")
    p.add_argument("--tag", action="append", help="only templates with this tag (repeatable)")
    p.add_argument("--all-versions", action="store_true", help="every version, not only the latest")
    p.add_argument("--limit", type=int, help="at most this many templates")
    p = _command(templates, "show", "template_show", "Show one template version.")
    p.add_argument("template", help="template ID")
    p = _command(templates, "create", "template_create", "Publish a template version.")
    p.add_argument("--file", help="a JSON file with the template's fields (options below override it)")
    for name in ("name", "version", "description"):
        p.add_argument(f"--{name}")
    p.add_argument("--image", help="image ID servers start from")
    p.add_argument("--visibility", choices=["public", "private", "shared", "community"])
    p.add_argument("--user-data-file", help="the cloud-init template (#cloud-config, in the template language)")
    p.add_argument("--parameters-file", help="a JSON file of parameter definitions")
    p.add_argument("--tag", action="append", help="a tag (repeatable)")
    p = _command(templates, "update", "template_update",
                 "Change a version's listing attributes, or publish changed content as --new-version.")
    p.add_argument("template", help="template ID")
    _bool_flag(p, "deprecated", "mark the version deprecated")
    _bool_flag(p, "protected", "protect the version from deletion")
    p.add_argument("--visibility", choices=["public", "private", "shared", "community"])
    p.add_argument("--tag", action="append", help="replace the tags (repeatable)")
    p.add_argument("--new-version", help="publish the change as this (higher) version")
    p.add_argument("--image", help="new image ID (needs --new-version)")
    p.add_argument("--description", help="new description (needs --new-version)")
    p.add_argument("--user-data-file", help="new user data (needs --new-version)")
    p.add_argument("--parameters-file", help="new parameter definitions, JSON (needs --new-version)")
    p = _command(templates, "delete", "template_delete", "Delete a template version.")
    p.add_argument("template", help="template ID")
    p = _command(templates, "parameters", "template_parameters",
                 "Show a template's parameters (-f json: their JSON Schema).")
    p.add_argument("template", help="template ID")
    p = _command(templates, "render", "template_render",
                 "Render a template for a launch: Nova's server body, the user data only, or a Heat template.")
    p.add_argument("template", help="template ID")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="a parameter value (repeatable)")
    p.add_argument("--param-file", help="a JSON file of parameter values")
    p.add_argument("--user-data-only", action="store_true", help="write only the rendered cloud-config")
    p.add_argument("--heat", action="store_true", help="write a Heat (HOT) template instead")
    p.add_argument("--output", help="write to this file instead of stdout")
    p.add_argument("--no-prompt", action="store_true", help="never ask for missing parameters")


def _cache_commands(cache: argparse.ArgumentParser) -> None:
    caches = cache.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _command(caches, "list", "cache_list", "List the images cached and queued on the streaming node.")
    p = _command(caches, "queue", "cache_queue", "Queue images for the node's prefetcher.")
    p.add_argument("images", nargs="+", metavar="image", help="image ID or name")
    p = _command(caches, "delete", "cache_delete", "Drop images from the node's cache and queue.")
    p.add_argument("images", nargs="+", metavar="image", help="image ID or name")
    p = _command(caches, "clear", "cache_clear", "Empty the node's cache, queue, or both.")
    p.add_argument("--target", choices=["both", "cache", "queue"], default="both",
                   help="what to empty (default both)")


_GROUPS = {
    "image": ("images: list, show, create, upload, download, update, delete, tag, ...", _image_commands),
    "member": ("image members (sharing)", _member_commands),
    "schema": ("JSON schemas the service validates with", _schema_commands),
    "info": ("what the service offers: versions, endpoints, import methods, stores, usage", _info_commands),
    "task": ("tasks (administrators)", _task_commands),
    "namespace": ("metadata-definition namespaces", _namespace_commands),
    "template": ("server templates: list, show, create, update, delete, parameters, render", _template_commands),
    "cache": ("the image cache of a streaming node (administrators): list, queue, delete, clear", _cache_commands),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``only``, other groups get no subcommands (building them all costs start-up time)."""
    parser = argparse.ArgumentParser(
        prog="glimpse", description="Manage images in Glimpse or OpenStack Glance (Images API v2).",
        epilog="Every option also reads the OS_* environment variable named in its help. "
               "Exit codes: 0 ok, 1 refused by the service, 2 usage/configuration, 3 unreachable, "
               "4 data verification failed.")
    connection = parser.add_argument_group("connection and identity")
    for dest, env in _ENV_OPTIONS.items():
        flag = "--" + dest.replace("_", "-")
        secret = "password" in dest or "secret" in dest or "token" in dest
        connection.add_argument(flag, dest=dest, metavar="VALUE" if secret else dest.upper().removeprefix("OS_"),
                                help=f"(env {env})")
    connection.add_argument("--insecure", action="store_true", help="do not verify TLS certificates (env OS_INSECURE)")
    connection.add_argument("--timeout", type=float, default=60.0, help="seconds per network operation (default 60)")
    connection.add_argument("--retries", type=int, default=3, help="retries of failed idempotent calls (default 3)")
    parser.add_argument("-f", "--format", choices=FORMATS, default="table", help=_FORMAT_HELP)
    parser.add_argument("-c", "--column", action="append", default=[], metavar="COLUMN", help=_COLUMN_HELP)
    parser.add_argument("--bytes", action="store_true", help=_BYTES_HELP)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    parser.add_argument("--debug", action="store_true", help="print tracebacks")
    groups = parser.add_subparsers(dest="group", metavar="{" + ",".join(_GROUPS) + "}", required=True)
    for name, (help_text, populate) in _GROUPS.items():
        group = groups.add_parser(name, help=help_text, description=help_text)
        if only is None or only == name:
            populate(group)
    return parser


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    guess = next((arg for arg in argv if arg in _GROUPS), None)
    args = build_parser(only=guess).parse_args(argv)
    if args.group != guess:  # an option value looked like a group name: parse again with everything
        args = build_parser().parse_args(argv)
    return args


def _image_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    parser.add_argument("--disk-format", help="raw, qcow2, vmdk, vdi, iso, vhd, vhdx, ploop, ami, ari, aki")
    parser.add_argument("--container-format", help="bare, ovf, ova, docker, compressed, ami, ari, aki")
    parser.add_argument("--visibility", choices=["public", "private", "shared", "community"])
    _bool_flag(parser, "protected", "protect the image from deletion")
    parser.add_argument("--min-ram", type=int, help="MiB")
    parser.add_argument("--min-disk", type=int, help="GiB")
    parser.add_argument("--property", action="append", metavar="KEY=VALUE", help="a custom property (repeatable)")


def _data_source(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--file", required=required, help="the image data; '-' reads stdin (sent chunked)")
    parser.add_argument("--size", type=int, help="the data size in bytes, when it cannot be known in advance")
    parser.add_argument("--store", help="the store to upload to (multi-store services)")


def _environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    for dest, name in _ENV_OPTIONS.items():
        value = getattr(args, dest)
        if value is not None:
            env[name] = value
    if args.insecure:
        env["OS_INSECURE"] = "true"
    return env


def _import_http_client_without_ssl() -> None:
    """Import ``http.client`` without its eager ``import ssl`` (about 5 MB and 10 ms at start-up).

    The transport makes TLS connections itself (importing ``ssl`` only for
    https URLs) and never uses ``http.client.HTTPSConnection``. Done only here,
    in the CLI's own process; the library never does it to its host.
    """
    if "http.client" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # makes `import ssl` inside http.client fail
    try:
        import http.client  # noqa: F401
    finally:
        del sys.modules["ssl"]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    _import_http_client_without_ssl()
    # Imported here so that --help and usage errors stay instant.
    from glimpseclient import _cache_commands, _commands, _template_commands
    from glimpseclient._client import Client, client_settings
    from glimpseclient._exceptions import (
        ConfigurationError,
        DataError,
        GlimpseClientError,
        RedirectError,
        TransportError,
    )

    try:
        settings = client_settings(_environment(args))
        with Client(timeout=args.timeout, retries=max(args.retries, 0), **settings) as client:
            commands = {"template": _template_commands, "cache": _cache_commands}.get(args.group, _commands)
            handler: _commands.Command = getattr(commands, args.handler)
            _resolve_images(client, args)
            return handler(client, args)
    except GlimpseClientError as exc:
        if args.debug:
            raise
        print(f"glimpse: error: {exc}", file=sys.stderr)
        if isinstance(exc, ConfigurationError):
            return 2
        if isinstance(exc, DataError):
            return 4
        return 3 if isinstance(exc, (TransportError, RedirectError)) else 1
    except BrokenPipeError:  # e.g. `glimpse image download X | head`
        return 0
    except OSError as exc:  # a local file: unreadable source, unwritable destination, full disk
        if args.debug:
            raise
        print(f"glimpse: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("glimpse: interrupted", file=sys.stderr)
        return 130



def _resolve_images(client: Client, args: argparse.Namespace) -> None:
    """Image names given where an ID is expected become IDs (a name must match exactly one image)."""
    from glimpseclient._lookup import image_id

    if getattr(args, "image", None):
        args.image = image_id(client, args.image)
    if getattr(args, "images", None):
        args.images = [image_id(client, ref) for ref in args.images]


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
