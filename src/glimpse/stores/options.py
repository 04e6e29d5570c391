"""Reading driver options: the typed values an operator writes in TOML, JSON or a carried-over glance-api.conf.

Values may arrive as strings (environment variables, ``glance-api.conf``), so
each reader accepts the string form too. Every problem is a
:class:`StoreConfigError` naming the option; messages never echo a value
that could be a secret.
"""

from __future__ import annotations

from collections.abc import Collection

from glimpse.stores.base import StoreConfigError

MiB = 1024 * 1024


def required(option: str, value: object) -> str:
    """A non-empty string option."""
    if value is None or str(value).strip() == "":
        raise StoreConfigError(option, "is required")
    return str(value)


def integer(option: str, value: object, *, minimum: int = 0, maximum: int | None = None) -> int:
    """An integer option within ``minimum .. maximum``."""
    if isinstance(value, bool):
        raise StoreConfigError(option, f"must be a whole number, not {value!r}")
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise StoreConfigError(option, f"must be a whole number, not {value!r}") from None
    if number < minimum or (maximum is not None and number > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise StoreConfigError(option, f"must be at least {minimum}{upper}, not {number}")
    return number


def mebibytes(option: str, value: object, *, minimum: int = 1) -> int:
    """A size given in MiB (as glance_store's options are); returned in bytes."""
    return integer(option, value, minimum=minimum) * MiB


def flag(option: str, value: object) -> bool:
    """A boolean option: true/false, yes/no, on/off, 1/0."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise StoreConfigError(option, f"must be true or false, not {value!r}")


def choice(option: str, value: object, choices: Collection[str]) -> str:
    """One of ``choices``."""
    text = str(value).strip().lower()
    if text not in choices:
        raise StoreConfigError(option, f"must be one of {', '.join(sorted(choices))}, not {value!r}")
    return text


def positive_seconds(option: str, value: object) -> float:
    """A duration in seconds, greater than zero."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StoreConfigError(option, f"must be a number of seconds, not {value!r}") from None
    if seconds <= 0:
        raise StoreConfigError(option, f"must be more than 0 seconds, not {seconds}")
    return seconds
