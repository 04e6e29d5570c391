"""The plugin manager of one node: which extensions are enabled, and calling their hooks.

Extensions are pluggy plugins. Third-party ones are found through the
``glimpse.extensions`` entry-point group (the entry point's name is the
extension's alias); built-in optional features are modules of this package
registered the same way under their alias, with hook implementations marked
``trylast`` so that an external plugin can go first or, under the same alias,
replace them. Only the aliases named in the ``extensions`` setting are loaded:
a disabled extension registers no hooks and adds no routes.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from glimpse import __version__
from glimpse.domain.events import DomainEvent, OutboxMessage, TemplateEvent
from glimpse.extensions import hookspecs

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from glimpse.services import Services
    from glimpse.settings import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "glimpse.extensions"

#: Built-in optional features: alias -> module holding the hook implementations.
BUILTIN = {
    "cache": "glimpse.cache.plugin",
    "console": "glimpse.console.plugin",
    "image-import": "glimpse.imports.plugin",
    "notifications": "glimpse.notifications.plugin",
    "p2p": "glimpse.p2p.plugin",
    "rpc": "glimpse.rpc.plugin",
    "templates": "glimpse.templates.plugin",
}


class ExtensionNotFound(ValueError):
    """The configuration enables an extension that is neither built in nor installed."""


@dataclass
class ExtensionInfo:
    """What ``GET /v2/extensions`` tells about one enabled extension."""

    alias: str
    name: str
    description: str
    version: str
    builtin: bool
    links: list[dict[str, str]] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)


class Extensions:
    """The enabled extensions of a node and the pluggy relay that calls their hooks.

    ``hook`` is the relay: ``extensions.hook.image_created(ctx=ctx, image=image)``.
    """

    def __init__(self, plugins: pluggy.PluginManager, infos: dict[str, ExtensionInfo], settings: Settings) -> None:
        self._plugins = plugins
        self.settings = settings
        self.hook = plugins.hook
        self.infos = infos
        for alias, info in infos.items():
            plugin = plugins.get_plugin(alias)
            callers = plugins.get_hookcallers(plugin) or []
            info.hooks = sorted(caller.name for caller in callers)

    @property
    def enabled(self) -> list[ExtensionInfo]:
        return list(self.infos.values())

    def routes(self, settings: Settings) -> list[BaseRoute]:
        """Every route the enabled extensions add, remembering which extension added which."""
        collected: list[BaseRoute] = []
        for impl in self.hook.register_routes.get_hookimpls():
            added = list(_call(impl, settings=settings) or [])
            self.infos[impl.plugin_name].routes = [str(getattr(r, "path", r)) for r in added]
            collected.extend(added)
        return collected

    def background_tasks(self, services: Services) -> list[Callable[[], Awaitable[None]]]:
        return [task for tasks in self.hook.register_background_tasks(services=services) for task in tasks]

    def outbox(self, events: Iterable[DomainEvent]) -> list[OutboxMessage]:
        """The outbox messages the enabled extensions want written for ``events``."""
        messages: list[OutboxMessage] = []
        for event in events:
            for produced in self.hook.change_committing(settings=self.settings, event=event):
                messages.extend(produced)
        return messages

    def template_outbox(self, events: Iterable[TemplateEvent]) -> list[OutboxMessage]:
        """The outbox messages the enabled extensions want written for template ``events``."""
        messages: list[OutboxMessage] = []
        for event in events:
            for produced in self.hook.template_change_committing(settings=self.settings, event=event):
                messages.extend(produced)
        return messages

    def observe(self, caller: pluggy.HookCaller, **kwargs: Any) -> None:
        """Fire an after-the-fact hook; the change is done, so failures are logged, not raised."""
        try:
            caller(**kwargs)
        except Exception:
            log.exception("extension hook %s failed", caller.name)


def load_extensions(settings: Settings) -> Extensions:
    """Register the extensions whose aliases ``settings.extensions`` lists, in that order.

    An installed entry point wins over a built-in of the same alias. Raises
    :class:`ExtensionNotFound` for an alias that is neither.
    """
    plugins = pluggy.PluginManager(hookspecs.PROJECT)
    plugins.add_hookspecs(hookspecs)
    installed = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    infos: dict[str, ExtensionInfo] = {}
    for alias in dict.fromkeys(settings.extensions):
        if alias in installed:
            plugin = installed[alias].load()
            info = _info(alias, plugin, installed[alias])
        elif alias in BUILTIN:
            plugin = importlib.import_module(BUILTIN[alias])
            info = _info(alias, plugin, None)
        else:
            known = sorted({*installed, *BUILTIN})
            raise ExtensionNotFound(
                f"extension {alias!r} is enabled in the settings but not installed; "
                f"available: {', '.join(known) or 'none'}"
            )
        plugins.register(plugin, name=alias)
        infos[alias] = info
    return Extensions(plugins, infos, settings)


def _info(alias: str, plugin: ModuleType | object, entry_point: EntryPoint | None) -> ExtensionInfo:
    """Describe an extension from its module's ``NAME``/``DESCRIPTION``/``VERSION``/``DOCS``
    attributes, falling back to its distribution's metadata."""
    metadata = entry_point.dist.metadata if entry_point is not None and entry_point.dist is not None else None
    version = getattr(plugin, "VERSION", None) or (
        entry_point.dist.version if entry_point is not None and entry_point.dist is not None else __version__)
    name = getattr(plugin, "NAME", None) or (metadata["Name"] if metadata else alias)
    description = getattr(plugin, "DESCRIPTION", None) or (metadata["Summary"] if metadata else "") or ""
    links = []
    docs = getattr(plugin, "DOCS", None)
    if docs:
        links.append({"rel": "describedby", "href": str(docs)})
    elif metadata:
        for url in metadata.get_all("Project-URL") or []:
            label, _, href = url.partition(",")
            links.append({"rel": "describedby", "href": href.strip(), "title": label.strip()})
    return ExtensionInfo(alias=alias, name=str(name), description=str(description), version=str(version),
                         builtin=entry_point is None, links=links)


def _call(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one implementation with the arguments it asks for."""
    return impl.function(*(kwargs[name] for name in impl.argnames))
