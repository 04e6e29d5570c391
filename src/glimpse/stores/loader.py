"""Find store drivers by name through the ``glimpse.stores`` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from glimpse.stores.base import Store

GROUP = "glimpse.stores"


def driver_class(name: str) -> type[Any]:
    """The driver class registered as ``name``; ``ValueError`` naming the choices if none."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    if name not in found:
        raise ValueError(f"unknown store driver {name!r}; installed drivers: {', '.join(sorted(found)) or 'none'}")
    cls: type[Any] = found[name].load()
    return cls


def load_stores(config: dict[str, dict[str, Any]]) -> dict[str, Store]:
    """Instantiate every configured store: ``{store_id: {"driver": name, **options}}``."""
    stores: dict[str, Store] = {}
    for store_id, options in config.items():
        options = dict(options)
        cls = driver_class(options.pop("driver"))
        options.pop("description", None)
        stores[store_id] = cls(**options)
    return stores
