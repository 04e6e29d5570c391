"""Imports point inward: read every module's imports with ``ast`` and hold each layer to its rules.

See ``docs/architecture.md`` for the picture. Exceptions are listed in :data:`EXCEPTIONS`, each with
its reason; a rule that is broken names the module, the line and the import.
"""

from __future__ import annotations

import ast
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "glimpse"

BUILTIN_EXTENSIONS = ("glimpse.cache", "glimpse.console", "glimpse.imports", "glimpse.notifications", "glimpse.p2p",
                      "glimpse.rpc")
#: Store drivers: the modules of ``glimpse.stores`` other than the protocol and the loader.
#: (and the prefixing wrapper, a view of any store through the protocol only).
DRIVER_SHARED = ("glimpse.stores.base", "glimpse.stores.loader", "glimpse.stores.prefixed")
#: Transports: what turns requests (HTTP, RPC, commands, browsers) into service calls. They get the services
#: they use from the composition root and never hold the database or a repository.
TRANSPORTS = ("glimpse.api", "glimpse.server", "glimpse.cli", "glimpse.auth", "glimpse.app", *BUILTIN_EXTENSIONS,
              "glimpse.templates")
#: What of ``glimpse.db`` a transport may use: the engine and the migrator (serving and ``db upgrade`` migrate
#: the schema before anything runs), never a repository.
SCHEMA_ONLY = ("glimpse.db.engine", "glimpse.db.migrate")
BELOW_THE_SERVER = ("glimpse.domain", "glimpse.services", "glimpse.api", "glimpse.db", "glimpse.stores",
                    "glimpse.extensions", "glimpse.auth", "glimpse.policy", *BUILTIN_EXTENSIONS)

#: (importing module prefix, imported module prefix): why this import is allowed although a rule forbids it.
EXCEPTIONS: dict[tuple[str, str], str] = {
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts)


def imports_of(source: str, module: str) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """``(line, imported module, imported names)`` for every import in ``source`` (also under TYPE_CHECKING)."""
    package = module.rsplit(".", 1)[0]  # "glimpse.api.v2.images" and "glimpse.api.v2.__init__": glimpse.api.v2
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = tuple(alias.name for alias in node.names)
            yield node.lineno, base, names
            for name in names:  # "from glimpse.server import workers" imports the module glimpse.server.workers
                yield node.lineno, f"{base}.{name}", ()


def _within(name: str, prefixes: tuple[str, ...] | str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in ((prefixes,) if isinstance(prefixes, str) else prefixes))


def violations(module: str, source: str) -> list[str]:
    """Every import of ``module`` (whose text is ``source``) that breaks a rule, as readable lines."""
    found = []
    for line, imported, names in imports_of(source, module):
        if not _within(imported, "glimpse") or imported == "glimpse":
            continue
        for reason in _broken_rules(module, imported, names):
            if any(_within(module, m) and _within(imported, i) for m, i in EXCEPTIONS):
                continue
            found.append(f"{module}:{line} imports {imported}{' ' + ', '.join(names) if names else ''}: {reason}")
    return found


def _broken_rules(module: str, imported: str, names: tuple[str, ...]) -> Iterator[str]:
    if _within(module, "glimpse.domain") and not _within(imported, ("glimpse.domain", "glimpse.errors")):
        yield "the domain imports nothing of ours but itself and the domain errors"
    if _within(module, "glimpse.services"):
        if _within(imported, ("glimpse.api", "glimpse.server", "glimpse.cli", "glimpse.app", "glimpse.auth",
                              *BUILTIN_EXTENSIONS)):
            yield "services are below the edge and the extensions: they never import them"
        if _within(imported, "glimpse.stores") and not _within(imported, DRIVER_SHARED):
            yield "services use stores through the Store protocol, never a driver"
        if _within(imported, "glimpse.db.images") and {"utcnow", "TransactionGuard"} & set(names):
            yield "utcnow comes from glimpse.clock, TransactionGuard from glimpse.db.transactions"
    if _within(module, "glimpse.api") and _within(imported, ("glimpse.db", "glimpse.cli", "glimpse.app",
                                                             *BUILTIN_EXTENSIONS)):
        yield "the edge reaches persistence and extensions through the service layer only"
    if _within(module, BELOW_THE_SERVER) and _within(imported, ("glimpse.server", "glimpse.app",
                                                                  "glimpse.composition")):
        yield "only the composition root (composition.py) and the commands use the server package"
    if (_within(module, TRANSPORTS) and _within(imported, "glimpse.db") and not _within(imported, SCHEMA_ONLY)
            and not (imported == "glimpse.db" and set(names) <= {"engine", "migrate"})):
        yield "transports never touch repositories: the composition root hands them services"
    if not _within(module, ("glimpse.composition", "glimpse.cli")) and _within(imported, "glimpse.composition"):
        yield "the composition root is used by the commands only: nothing it wires imports it"
    if not _within(module, "glimpse.cli") and _within(imported, "glimpse.cli"):
        yield "the command line is the outermost layer: nothing imports it"
    if (_within(module, "glimpse.stores") and not _within(module, DRIVER_SHARED)
            and _within(imported, ("glimpse.services", "glimpse.api", "glimpse.server", "glimpse.db"))):
        yield "store drivers only move bytes: they never import services, the edge or the database"
    if _within(module, "glimpse.db") and _within(imported, ("glimpse.services", "glimpse.api", "glimpse.server")):
        yield "repositories are below the service layer"
    if _within(module, BUILTIN_EXTENSIONS):
        if _within(imported, "glimpse.api") and not _within(imported, "glimpse.api.extension_routes"):
            yield "built-in extensions use the edge's public surface, glimpse.api.extension_routes, like third-party ones"
        if _within(imported, "glimpse.db"):
            yield "built-in extensions reach persistence through the service layer, like third-party ones"


def _modules() -> list[tuple[str, Path]]:
    return sorted((_module_name(path), path) for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts)


def test_every_module_of_glimpse_imports_only_in_the_allowed_direction() -> None:
    broken = [v for module, path in _modules() for v in violations(module, path.read_text())]
    assert not broken, "imports against the direction of the layers:\n" + "\n".join(broken)


def test_built_in_extensions_import_no_internals_of_the_edge_or_the_database() -> None:
    checked = [module for module, _ in _modules() if _within(module, BUILTIN_EXTENSIONS)]
    assert len(checked) >= 10, checked  # the rule must really look at the built-in extensions
    broken = [v for module, path in _modules() if module in checked for v in violations(module, path.read_text())]
    assert not broken, "\n".join(broken)


def test_every_listed_exception_is_still_needed() -> None:
    modules = dict(_modules())
    for (importer, imported), _reason in EXCEPTIONS.items():
        assert importer in modules, f"exception for a module that no longer exists: {importer}"
        used = [i for _line, i, _names in imports_of(modules[importer].read_text(), importer) if _within(i, imported)]
        assert used, f"{importer} no longer imports {imported}: drop the exception"


@pytest.mark.parametrize(("module", "source", "reason"), [
    ("glimpse.domain.images", "from glimpse.db.tables import images\n", "the domain imports nothing"),
    ("glimpse.services.images", "from glimpse.api.requests import context\n", "services are below the edge"),
    ("glimpse.services.images", "if True:\n    from glimpse.server import workers\n", "services are below the edge"),
    ("glimpse.services.images", "from glimpse.db.images import utcnow\n", "utcnow comes from glimpse.clock"),
    ("glimpse.services.images", "from glimpse.stores.filesystem import FilesystemStore\n", "never a driver"),
    ("glimpse.api.v2.images", "from glimpse.server.zerocopy import ZEROCOPY_SEND\n", "composition root"),
    ("glimpse.api.v2.images", "from ...db import images\n", "through the service layer only"),
    ("glimpse.stores.filesystem", "import glimpse.services.images\n", "only move bytes"),
    ("glimpse.imports.api", "from glimpse.api.requests import context\n", "public surface"),
    ("glimpse.notifications.relay", "from glimpse.db.outbox import OutboxRepository\n", "through the service layer"),
    ("glimpse.server.workers", "from glimpse.db.images import ImageRepository\n", "never touch repositories"),
    ("glimpse.cli.manage", "from glimpse.db.quotas import RESOURCES\n", "never touch repositories"),
    ("glimpse.app", "from glimpse.db.statistics import StatisticsRepository\n", "never touch repositories"),
    ("glimpse.services.images", "from glimpse.composition import open_services\n", "composition root"),
    ("glimpse.server.workers", "from glimpse.composition import open_node\n", "composition root"),
])
def test_an_import_against_the_direction_is_reported_with_its_reason(module: str, source: str, reason: str) -> None:
    found = violations(module, source)
    assert found and any(reason in line for line in found), found


def test_an_allowed_import_is_not_reported() -> None:
    assert violations("glimpse.server.workers", "from glimpse.api.server_offers import SOCKET_BODY\n") == []
    assert violations("glimpse.imports.plugin", "from glimpse.api.extension_routes import IMAGE\n") == []
    assert violations("glimpse.services.images", "from glimpse.clock import utcnow\n") == []
    assert violations("glimpse.cli.manage", "from glimpse.db import migrate\n") == []
    assert violations("glimpse.server.startup", "from glimpse.db.engine import Database\n") == []
    assert violations("glimpse.composition", "from glimpse.db.images import ImageRepository\n") == []
    assert violations("glimpse.cli.serve", "from glimpse.composition import serve\n") == []


def test_the_services_a_transport_receives_carry_no_database_or_repository() -> None:
    from glimpse.services import Services

    hints = typing.get_type_hints(Services)
    assert len(hints) >= 20, hints  # the check must really see the container's fields
    below = {name: hint for name, hint in hints.items()
             if _within(getattr(hint, "__module__", ""), "glimpse.db")}
    assert not below, f"Services hands transports parts of the persistence layer: {below}"
