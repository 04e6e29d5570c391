"""Options every command shares, and turning them into :class:`Settings`."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from glimpse.settings import ConfigFileError, Settings


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML configuration file (also GLIMPSE_CONFIG)")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="directory for the embedded database and filesystem store (GLIMPSE_DATA_DIR)")
    parser.add_argument("--database-url", metavar="URL",
                        help="SQLAlchemy database URL (GLIMPSE_DATABASE_URL); default SQLite in the data dir")
    parser.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug", "trace"],
                        help="log level (GLIMPSE_LOG_LEVEL)")


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings from the parsed options (only those given), the environment and the config file."""
    given: dict[str, Any] = {
        "config_file": args.config,
        "data_dir": args.data_dir,
        "database_url": args.database_url,
        "log_level": args.log_level,
        **extra,
    }
    try:
        return Settings(**{k: v for k, v in given.items() if v is not None})
    except ConfigFileError as exc:
        sys.exit(f"error: {exc}")
    except SettingsError as exc:
        sys.exit(f"error: {_unparsable(exc)}")
    except tomllib.TOMLDecodeError as exc:
        sys.exit(f"error: the configuration file is not valid TOML: {exc}")
    except ValidationError as exc:
        sys.exit(f"error: invalid settings: {'; '.join(_problem(e) for e in exc.errors())}")


def _problem(error: Any) -> str:
    """``workers (GLIMPSE_WORKERS): Input should be a valid integer, got 'abc'`` for one validation error."""
    loc = [str(p) for p in error["loc"]]
    if not loc:
        return str(error["msg"]).removeprefix("Value error, ")
    name = loc[0]
    where = f"{name} (GLIMPSE_{name.upper()})" if name in Settings.model_fields else name
    given = error.get("input")
    shown = f", got {given!r}" if isinstance(given, (str, int, float)) and len(loc) == 1 else ""
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}{'.' + '.'.join(loc[1:]) if loc[1:] else ''}: {message}{shown}"


def _unparsable(exc: SettingsError) -> str:
    """One line for a setting whose text could not be decoded (lists and dicts are JSON in the environment)."""
    found = re.search(r'field "(\w+)"', str(exc))
    if found is None:
        return f"invalid settings: {exc}"
    name = found.group(1)
    variable = f"GLIMPSE_{name.upper()}"
    raw = os.environ.get(variable)
    reason = "cannot be parsed"
    if raw is not None:
        try:
            json.loads(raw)
        except ValueError as error:
            reason = f"is not valid JSON ({error})"
    annotation = Settings.model_fields[name].annotation if name in Settings.model_fields else None
    kind = "a JSON list, e.g. '[\"a\", \"b\"]'" if getattr(annotation, "__origin__", None) is list \
        else "a JSON object, e.g. '{\"key\": \"value\"}'"
    return f"setting {name}: {variable}={raw!r} {reason}; give {kind}"


def check_files(settings: Settings) -> None:
    """Exit with one line if a file or extension the settings name cannot be used (before any worker starts).

    The same loaders the services use read them, so what passes here loads there.
    """
    from glimpse.domain.schemas import load_custom_properties
    from glimpse.extensions.manager import load_extensions
    from glimpse.policy import Policy
    from glimpse.policy.properties import PropertyProtections

    try:
        load_extensions(settings)
        policy = Policy.from_file(settings.policy_file)
        PropertyProtections.from_file(settings.property_protection_file,
                                      rule_format=settings.property_protection_rule_format, policy=policy)
        load_custom_properties(settings.image_schema_file)
    except ValueError as exc:  # ExtensionNotFound, PolicySyntaxError and unreadable schema files are ValueErrors
        sys.exit(f"error: {exc}")
