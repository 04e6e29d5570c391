"""Find store drivers by name through the ``glimpse.stores`` entry points, and build configured stores."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from glimpse.stores.base import Store, StoreConfigError

GROUP = "glimpse.stores"
#: Options of every store that the service reads itself; drivers never see them.
SERVICE_OPTIONS = ("driver", "description", "weight", "read_only")


class StoreSetupError(Exception):
    """A configured store cannot be built: one line naming the store id, the option and the problem."""

    def __init__(self, store_id: str, error: StoreConfigError) -> None:
        super().__init__(f"store '{store_id}': {error}")
        self.store_id = store_id
        self.option = error.option
        self.problem = error.problem


def driver_class(name: str) -> type[Any]:
    """The driver class registered as ``name``; ``ValueError`` naming the choices if none."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    if name not in found:
        raise ValueError(f"unknown store driver {name!r}; installed drivers: {', '.join(sorted(found)) or 'none'}")
    cls: type[Any] = found[name].load()
    return cls


def load_store(store_id: str, options: Mapping[str, Any]) -> Store:
    """Build the store ``store_id`` from its configuration section; :class:`StoreSetupError` if it is wrong."""
    try:
        try:
            cls = driver_class(str(options.get("driver")))
        except ValueError as exc:
            raise StoreConfigError("driver", str(exc)) from None
        driver_options = {k: v for k, v in options.items() if k not in SERVICE_OPTIONS}
        try:
            store: Store = cls(**driver_options)
        except TypeError as exc:  # a required option missing, or one the driver does not know
            raise StoreConfigError(_option_named(str(exc)) or "?", str(exc)) from None
        except OSError as exc:  # e.g. a directory that cannot be created
            raise StoreConfigError(_first_path_option(driver_options), exc.strerror or str(exc)) from None
    except StoreConfigError as exc:
        raise StoreSetupError(store_id, exc) from None
    return store


def load_stores(config: dict[str, dict[str, Any]]) -> dict[str, Store]:
    """Instantiate every configured store: ``{store_id: {"driver": name, **options}}``.

    Raises :class:`StoreSetupError` for the first store that cannot be built.
    """
    return {store_id: load_store(store_id, options) for store_id, options in config.items()}


def _option_named(message: str) -> str | None:
    """The option a constructor's ``TypeError`` names (``missing ... argument: 'path'``)."""
    quote = message.rfind("'", 0, len(message) - 1)
    if message.endswith("'") and quote >= 0:
        return message[quote + 1:-1]
    return None


def _first_path_option(options: Mapping[str, Any]) -> str:
    return next((name for name in options if "path" in name or "dir" in name), "path")
