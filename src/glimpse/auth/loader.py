"""Find the authentication strategy by name through the ``glimpse.auth`` entry points.

Like store drivers (:mod:`glimpse.stores.loader`), strategies are found by
name: ``noauth``, ``keystone`` and ``tokens`` ship with Glimpse, and a
distribution can add its own under the ``glimpse.auth`` group. The entry point
names a factory ``build(settings, services) -> Authenticator``, called once
per worker when its application is built.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

from glimpse.auth import Authenticator
from glimpse.settings import AUTH_GROUP, Settings

if TYPE_CHECKING:
    from glimpse.services import Services


class AuthenticatorFactory(Protocol):
    def __call__(self, settings: Settings, services: Services) -> Authenticator: ...


def strategy_names() -> list[str]:
    """The installed strategies, sorted."""
    return sorted({ep.name for ep in entry_points(group=AUTH_GROUP)})


def load_authenticator(settings: Settings, services: Services) -> Authenticator:
    """The strategy ``settings.auth_strategy`` names, built for ``services``.

    Raises ``ValueError`` naming the setting and the installed strategies when
    none has that name (``Settings`` refuses such a name already).
    """
    found = {ep.name: ep for ep in entry_points(group=AUTH_GROUP)}
    entry = found.get(settings.auth_strategy)
    if entry is None:
        raise ValueError(f"auth_strategy {settings.auth_strategy!r} is not installed; installed strategies: "
                         f"{', '.join(sorted(found)) or 'none'} (entry points of group {AUTH_GROUP})")
    factory: AuthenticatorFactory = entry.load()
    return factory(settings, services)
