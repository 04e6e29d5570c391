"""Find store drivers by name through the ``glimpse.stores`` entry points, and build configured stores."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from glimpse.stores.base import Store, StoreConfigError, StoreError

GROUP = "glimpse.stores"
#: Options of every store that the service reads itself; drivers never see them.
SERVICE_OPTIONS = ("driver", "description", "weight", "read_only")


class StoreSetupError(Exception):
    """A configured store cannot be used: one line naming the store id, the option (if one is wrong) and the problem."""

    def __init__(self, store_id: str, option: str | None, problem: str) -> None:
        where = f"option '{option}': " if option else ""
        super().__init__(f"store '{store_id}': {where}{problem}")
        self.store_id = store_id
        self.option = option
        self.problem = problem


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
            raise _option_error(str(exc), str(options.get("driver"))) from None
        except OSError as exc:  # e.g. a directory that cannot be created
            raise StoreConfigError(_first_path_option(driver_options), exc.strerror or str(exc)) from None
    except StoreConfigError as exc:
        raise StoreSetupError(store_id, exc.option, exc.problem) from None
    except StoreError as exc:  # the driver connects when built, and could not
        raise StoreSetupError(store_id, None, f"cannot be reached: {exc}") from None
    return store


def load_stores(config: dict[str, dict[str, Any]]) -> dict[str, Store]:
    """Instantiate every configured store: ``{store_id: {"driver": name, **options}}``.

    Raises :class:`StoreSetupError` for the first store that cannot be built.
    """
    return {store_id: load_store(store_id, options) for store_id, options in config.items()}


def _option_error(message: str, driver: str) -> StoreConfigError:
    """The option a constructor's ``TypeError`` is about (``missing ... argument: 'path'``), and what is wrong."""
    names = re.findall(r"'([^']+)'", message.partition(":")[2] if ":" in message else message)
    option = " and ".join(names) if names else "?"
    if "missing" in message:
        return StoreConfigError(option, f"required by driver '{driver}' but not set")
    if "unexpected keyword" in message:
        return StoreConfigError(option, f"not an option of driver '{driver}'")
    return StoreConfigError(option, message)


def _first_path_option(options: Mapping[str, Any]) -> str:
    return next((name for name in options if "path" in name or "dir" in name), "path")
