"""Options every command shares, and turning them into :class:`Settings`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

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
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors())
        sys.exit(f"error: invalid settings: {problems}")
