"""Typed settings, loaded once at start-up and passed down explicitly.

Sources, strongest first: keyword arguments (the command line), environment
variables (``GLIMPSE_<FIELD>``; dicts and lists as JSON), the TOML file named
by ``config_file`` / ``GLIMPSE_CONFIG``, then the defaults below.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
DEFAULT_CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/glimpse``, falling back to ``~/.local/share/glimpse``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "glimpse"


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS tells), at least 1."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


class ConfigFileError(ValueError):
    """The configuration file named by the operator is missing or unreadable."""


class Settings(BaseSettings):
    """Every knob of a Glimpse node. See ``docs/configuration.md``."""

    model_config = SettingsConfigDict(env_prefix="GLIMPSE_", extra="forbid", validate_default=True)

    config_file: Path | None = Field(default=None, description="TOML file read for settings not given otherwise")

    # -- serving
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=9292, ge=0, le=65535, description="TCP port to listen on")
    log_level: str = Field(default="info", description="one of critical, error, warning, info, debug, trace")
    public_endpoint: str | None = Field(
        default=None, description="base URL clients reach this node at (version document, Location headers)"
    )
    registry_endpoint: str | None = Field(
        default=None, description="base URL of the metadata (registry) nodes, advertised in the version document"
    )
    streaming_endpoint: str | None = Field(
        default=None, description="base URL of the image data (streaming) nodes, advertised in the version document"
    )
    max_json_body_size: int = Field(default=1024 * 1024, gt=0, description="largest JSON request body in bytes")
    worker_threads: int = Field(default=128, ge=4, description="threads for blocking database and store calls")
    workers: int = Field(default_factory=lambda: _usable_cpus(), ge=1,
                         description="worker processes sharing the listening socket; default one per CPU")
    tls_cert_file: Path | None = Field(default=None, description="PEM certificate (chain): serve HTTPS")
    tls_key_file: Path | None = Field(default=None, description="PEM private key of tls_cert_file (if not in it)")
    tls_client_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle: require client certificates signed by it"
    )

    # -- persistence
    data_dir: Path = Field(default_factory=default_data_dir, description="where the embedded default keeps its files")
    database_url: str = Field(default="", description="SQLAlchemy URL; default sqlite:///<data_dir>/glimpse.db")
    default_store: str = Field(default="file", description="store id new image data goes to")
    stores: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='store id -> {"driver": <entry point name>, ...driver options}; default one filesystem store',
    )

    # -- images
    image_size_cap: int = Field(default=1 << 40, ge=1, description="largest image in bytes (413 beyond)")
    hashing_algorithm: str = Field(default="sha512", description="hashlib algorithm for os_hash_value")
    disk_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_DISK_FORMATS))
    container_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_CONTAINER_FORMATS))
    image_schema_file: Path | None = Field(
        default=None, description="JSON file of extra image schema properties (Glance's schema-image.json format)"
    )
    require_image_format_match: bool = Field(
        default=True, description="reject uploads whose data does not look like the declared disk_format"
    )
    limit_param_default: int = Field(default=25, ge=1, description="page size when a list request gives no limit")
    api_limit_max: int = Field(default=1000, ge=1, description="largest page size a list request may get")
    image_property_quota: int = Field(default=128, description="custom properties per image; negative = unlimited")
    image_tag_quota: int = Field(default=128, description="tags per image; negative = unlimited")
    image_member_quota: int = Field(default=128, description="members per image; negative = unlimited")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        init_kwargs = getattr(init_settings, "init_kwargs", {})
        path = init_kwargs.get("config_file") or os.environ.get("GLIMPSE_CONFIG_FILE") or os.environ.get("GLIMPSE_CONFIG")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path:
            if not Path(path).is_file():
                raise ConfigFileError(f"configuration file {path} does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(path)))
        return tuple(sources)

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.lower() not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
        return value.lower()

    @field_validator("hashing_algorithm")
    @classmethod
    def _known_hash(cls, value: str) -> str:
        try:
            hashlib.new(value)
        except ValueError:
            raise ValueError(f"hashing_algorithm {value!r} is not available in hashlib") from None
        if value.startswith("shake_"):
            raise ValueError("variable-length shake algorithms cannot be used for os_hash_value")
        return value

    @model_validator(mode="after")
    def _fill_derived(self) -> Settings:
        self.data_dir = self.data_dir.expanduser()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'glimpse.db'}"
        if not self.stores:
            self.stores = {"file": {"driver": "filesystem", "path": str(self.data_dir / "images")}}
        for store_id, options in self.stores.items():
            if "driver" not in options:
                raise ValueError(f"store {store_id!r} needs a 'driver'")
        if self.default_store not in self.stores:
            raise ValueError(f"default_store {self.default_store!r} is not one of the stores: {', '.join(self.stores)}")
        for name in ("tls_cert_file", "tls_key_file", "tls_client_ca_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).expanduser().is_file():
                raise ValueError(f"{name} {path} is not a readable file")
        if (self.tls_key_file or self.tls_client_ca_file) and not self.tls_cert_file:
            raise ValueError("tls_key_file and tls_client_ca_file need tls_cert_file")
        if self.limit_param_default > self.api_limit_max:
            raise ValueError("limit_param_default cannot exceed api_limit_max")
        return self
