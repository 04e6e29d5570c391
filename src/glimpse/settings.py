"""Typed settings, loaded once at start-up and passed down explicitly.

Sources, strongest first: keyword arguments (the command line), environment
variables (``GLIMPSE_<FIELD>``; dicts and lists as JSON), the TOML file named
by ``config_file`` / ``GLIMPSE_CONFIG``, then the defaults below.
"""

from __future__ import annotations

import hashlib
import os
import socket
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
DEFAULT_CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
#: The entry-point group of authentication strategies (see :mod:`glimpse.auth.loader`).
AUTH_GROUP = "glimpse.auth"
#: How staged objects are named when the staging area shares the default store (``staging_store``'s ``key_prefix``).
STAGING_KEY_PREFIX = "os_glance_staging_"
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
    log_format: Literal["text", "json"] = Field(
        default="text", description="text lines, or one JSON object per line (for log shippers)"
    )
    access_log: bool = Field(default=True, description="log one line per request (at info level)")
    metrics_access: Literal["loopback", "admin", "off"] = Field(
        default="loopback",
        description="who may read /metrics: loopback (clients on this host without credentials, and admins), "
                    "admin (administrators only) or off",
    )
    metrics_dir: Path | None = Field(
        default=None, description="directory the workers share their metrics through; default "
                                  "<data_dir>/metrics-<port>, emptied at start"
    )
    metrics_cache_seconds: float = Field(
        default=15.0, ge=0, description="how long a worker reuses its count of images by status and outbox backlog"
    )
    otel_enabled: bool = Field(
        default=False, description="send OpenTelemetry traces (needs the glimpse[otel] extra; configure the "
                                   "exporter with the standard OTEL_* environment variables)"
    )
    public_endpoint: str | None = Field(
        default=None, description="base URL clients reach this node at (version document, Location headers)"
    )
    registry_endpoint: str | None = Field(
        default=None, description="base URL of the metadata (registry) nodes, advertised in the version document"
    )
    streaming_endpoint: str | None = Field(
        default=None, description="base URL of the image data (streaming) nodes, advertised in the version document"
    )
    role: Literal["all", "registry", "streaming"] = Field(
        default="all",
        description="which API this node serves: registry (metadata), streaming (image data) or all",
    )
    max_json_body_size: int = Field(default=1024 * 1024, gt=0, description="largest JSON request body in bytes")
    max_json_depth: int = Field(default=32, ge=2, le=1000,
                                description="deepest nesting of arrays and objects in a JSON request body")
    worker_threads: int = Field(default=128, ge=4, description="threads for blocking database and store calls")
    server_fast_paths: bool = Field(
        default=True, description="the server's fast paths on uvicorn's internals (glimpse.server); "
                                  "false: plain uvicorn and Starlette"
    )
    balance_patience: float = Field(
        default=0.005, ge=0, le=1,
        description="seconds a new connection is left for a less loaded worker before a busier one takes it "
                    "(balanced accepting, a fast path)")
    workers: int = Field(default_factory=lambda: _usable_cpus(), ge=1,
                         description="worker processes sharing the listening socket; default one per CPU")
    # -- limits at the edge (docs/reliability-edge.md)
    max_request_line: int = Field(default=8 * 1024, ge=256, description="longest request target in bytes (414)")
    max_header_bytes: int = Field(default=64 * 1024, ge=4096, description="header fields in bytes in total (431)")
    max_header_count: int = Field(default=100, ge=8, description="header fields per request (431)")
    request_head_timeout: float = Field(default=30.0, gt=0, description="seconds a request head may take (408)")
    body_idle_timeout: float = Field(default=60.0, gt=0, description="seconds a request body may pause (408)")
    body_min_rate: int = Field(default=1024, ge=0, description="bytes per second a request body must average")
    body_rate_window: float = Field(default=30.0, gt=0, description="seconds over which body_min_rate is measured")
    max_uploads_per_worker: int = Field(default=64, ge=1, description="uploads one worker process runs at once (503)")
    max_uploads_per_project: int = Field(default=16, ge=1, description="uploads one project runs at once on a "
                                                                       "worker process (429)")
    health_min_free_bytes: int = Field(default=64 * 1024 * 1024, ge=0,
                                       description="free bytes a filesystem store needs to count as healthy")
    tls_cert_file: Path | None = Field(default=None, description="PEM certificate (chain): serve HTTPS")
    tls_key_file: Path | None = Field(default=None, description="PEM private key of tls_cert_file (if not in it)")
    tls_client_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle: require client certificates signed by it"
    )

    # -- identity and access
    auth_strategy: str = Field(
        default="noauth", description="noauth (identity from headers; development only), keystone, tokens, "
                                   "or another installed glimpse.auth entry point"
    )
    allow_insecure_noauth: bool = Field(
        default=False, description="let noauth listen on a non-loopback address (never in production)"
    )
    keystone_url: str | None = Field(default=None, description="Keystone v3 base URL, e.g. http://keystone:5000/v3")
    keystone_username: str | None = Field(default=None, description="service user that validates tokens")
    keystone_password: str | None = Field(default=None, description="password of the service user")
    keystone_project_name: str = Field(default="service", description="project of the service user")
    keystone_user_domain: str = Field(default="Default", description="domain name of the service user")
    keystone_project_domain: str = Field(default="Default", description="domain name of the service project")
    keystone_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for Keystone")
    token_cache_seconds: float = Field(
        default=300.0, ge=0, description="how long a validated token is trusted before asking again"
    )
    policy_file: Path | None = Field(default=None, description="YAML/JSON file overriding policy rules")
    property_protection_file: Path | None = Field(
        default=None, description="Glance-format file protecting custom properties by role"
    )
    property_protection_rule_format: str = Field(default="roles", description="roles or policies")

    # -- per-project quotas (-1 = unlimited), overridable per project with glimpse-manage quota
    quota_image_count_total: int = Field(default=-1, ge=-1, description="images a project may own")
    quota_image_size_total: int = Field(default=-1, ge=-1, description="MiB of image data a project may store")
    quota_image_stage_total: int = Field(default=-1, ge=-1, description="MiB a project may hold in staging")
    quota_image_count_uploading: int = Field(
        default=-1, ge=-1, description="uploads a project may run at the same time"
    )

    # -- persistence
    data_dir: Path = Field(default_factory=default_data_dir, description="where the embedded default keeps its files")
    database_url: str = Field(default="", description="SQLAlchemy URL; default sqlite:///<data_dir>/glimpse.db")
    database_statement_timeout: float = Field(
        default=30.0, ge=0, description="seconds one SQL statement of the API may run on PostgreSQL/MariaDB before "
                                        "the database cancels it (503); 0 = no bound"
    )
    default_store: str = Field(default="file", description="store id new image data goes to")
    stores: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='store id -> {"driver": <entry point name>, ...driver options}; default one filesystem store',
    )

    # -- extensions and AMQP
    extensions: list[str] = Field(
        default_factory=lambda: ["image-import", "templates", "console"],
        description="aliases of the extensions enabled on this node (built-in or installed); image-import, "
                    "templates and console by default (console only on a node of role all unless listed)",
    )
    amqp_url: str | None = Field(
        default=None, description="RabbitMQ URL (amqp://user:password@host:5672/vhost) for notifications and RPC"
    )
    amqp_durable: bool = Field(default=True, description="declare exchanges and queues durable, messages persistent")
    notification_exchange: str = Field(default="glance", description="topic exchange notifications go to")
    notification_topics: list[str] = Field(
        default_factory=lambda: ["notifications"], description="routing-key prefixes: <topic>.<priority>"
    )
    notification_publisher_id: str = Field(default="", description="publisher_id; default image.<host name>")
    disabled_notifications: list[str] = Field(
        default_factory=list, description="event types (image.update) or groups (image.member) not to publish"
    )
    outbox_poll_interval: float = Field(default=0.5, gt=0, description="seconds between outbox polls when idle")
    outbox_retention: float = Field(default=86400.0, ge=0, description="seconds sent messages stay in the outbox")
    rpc_queue: str = Field(default="glimpse.rpc", description="queue the RPC server consumes requests from")

    # -- image cache (the cache extension)
    image_cache_dir: Path | None = Field(
        default=None, description="node-local directory of the image cache; default <data_dir>/image-cache"
    )
    image_cache_max_size: int = Field(
        default=10 * 1024**3, ge=0, description="bytes the image cache may hold; the pruner evicts the least "
                                                "recently used images beyond it"
    )
    image_cache_stall_time: float = Field(
        default=60.0, gt=0, description="seconds a cache fill may go without progress before it counts as stalled: "
                                        "readers fall back to the stores and the cleaner removes it"
    )
    image_cache_interval: float = Field(
        default=60.0, gt=0, description="seconds between runs of the cache's pruner, cleaner and prefetcher"
    )

    # -- image import (the image-import extension)
    import_methods: list[str] = Field(
        default_factory=lambda: ["glance-direct", "web-download", "copy-image"],
        description="import methods offered when the image-import extension is enabled (copy-image only where more "
                    "than one store takes data)",
    )
    import_plugins: list[str] = Field(
        default_factory=list, description="steps every import's data goes through: image-decompression, "
                                          "image-conversion (in that order)"
    )
    image_conversion_output_format: str = Field(
        default="raw", description="disk_format image-conversion converts imports to (qcow2, raw, vmdk, ...)"
    )
    image_decompression_max_ratio: int = Field(
        default=100, ge=1, description="refuse compressed imports that expand more than this many times"
    )
    staging_path: Path | None = Field(
        default=None, description="directory for staged data (glance-direct) instead of the default staging area "
                                  "(see staging_store); share it between nodes"
    )
    staging_store: dict[str, Any] = Field(
        default_factory=dict,
        description='the store staged data is kept in, as a store of `stores`: {"driver": ..., ...options, '
                    '"key_prefix": optional name prefix}; default the default store when it is remote (rbd, s3, '
                    'swift; objects named os_glance_staging_<id>), else a filesystem store at staging_path',
    )
    import_threads: int = Field(default=2, ge=1, description="imports one worker process runs at the same time")
    task_time_to_live: float = Field(default=48 * 3600.0, gt=0, description="seconds a finished task stays listed")
    web_download_allowed_schemes: list[str] = Field(default_factory=lambda: ["http", "https"],
                                                    description="URL schemes web-download may fetch")
    web_download_allowed_ports: list[int] = Field(
        default_factory=lambda: [80, 443], description="ports web-download may fetch from; empty = any"
    )
    web_download_allowed_hosts: list[str] = Field(
        default_factory=list, description="hosts web-download may fetch from; empty = any not disallowed"
    )
    web_download_disallowed_hosts: list[str] = Field(
        default_factory=list, description="hosts web-download must never fetch from"
    )
    web_download_allowed_networks: list[str] = Field(
        default_factory=list, description="networks (CIDR) web-download may fetch from although not global, "
                                          "e.g. an internal mirror; loopback, private, link-local and the like "
                                          "are refused otherwise"
    )
    web_download_disallowed_networks: list[str] = Field(
        default_factory=list, description="networks (CIDR) web-download must never fetch from"
    )
    glance_download_endpoints: dict[str, str] = Field(
        default_factory=dict, description="glance-download: region name -> images endpoint URL of that region "
                                          "(fetched under the web_download_* URL rules)"
    )
    web_download_max_redirects: int = Field(default=5, ge=0, description="redirects web-download follows")
    web_download_connect_timeout: float = Field(default=10.0, gt=0, description="seconds to connect")
    web_download_read_timeout: float = Field(default=60.0, gt=0, description="seconds to wait for each read")

    # -- peer-to-peer between streaming nodes (the p2p extension, docs/p2p.md)
    p2p_address: str = Field(default="127.0.0.1",
                             description="address this node's BitTorrent port listens on and peers reach it at")
    p2p_port: int = Field(default=0, ge=0, le=65535,
                          description="BitTorrent TCP port; 0 = a free port per worker process (each registers its own)")
    p2p_heartbeat_seconds: float = Field(default=5.0, gt=0, description="seconds between a node's registry heartbeats")
    p2p_node_timeout: float = Field(default=30.0, gt=0,
                                    description="seconds after its last heartbeat a node is no longer a peer")
    p2p_stall_seconds: float = Field(default=15.0, gt=0,
                                     description="seconds a swarm fill may make no progress before it falls back "
                                                 "to the store")
    p2p_upload_rate_limit: int = Field(default=0, ge=0, description="bytes per second this node uploads to peers "
                                                                    "(0 = unlimited)")
    p2p_download_rate_limit: int = Field(default=0, ge=0, description="bytes per second this node downloads from "
                                                                      "peers (0 = unlimited)")
    p2p_piece_size: int = Field(default=0, ge=0, description="torrent piece size in bytes for newly hashed images "
                                                             "(a power of two of 16 KiB or more); 0 = by image size")
    p2p_store_seed: bool = Field(default=True, description="fetch the pieces no peer offers from the store during "
                                                           "a swarm fill (the store as last-resort seed)")
    p2p_hash_active_images: bool = Field(default=True, description="compute the piece hashes of active images "
                                                                   "in the background, so the first fill is a swarm")

    # -- images
    image_size_cap: int = Field(default=1 << 40, ge=1, description="largest image in bytes (413 beyond)")
    hashing_algorithm: str = Field(default="sha512", description="hashlib algorithm for os_hash_value")
    disk_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_DISK_FORMATS),
                                    description="disk_format values images may have")
    container_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_CONTAINER_FORMATS),
                                         description="container_format values images may have")
    image_schema_file: Path | None = Field(
        default=None, description="JSON file of extra image schema properties (Glance's schema-image.json format)"
    )
    require_image_format_match: bool = Field(
        default=True, description="reject uploads whose data does not look like the declared disk_format"
    )
    image_max_virtual_size: int = Field(
        default=16 * 1024 ** 4, ge=1, description="largest virtual size of an image in bytes (16 TiB); larger is refused"
    )
    image_refuse_archive_containers: bool = Field(
        default=True, description="refuse ova and docker (tar) containers instead of inspecting each member"
    )
    image_check_with_qemu_img: bool = Field(
        default=True, description="also check image data with qemu-img info (in a bwrap sandbox) when installed"
    )
    image_qemu_img_unsandboxed: bool = Field(
        default=False, description="run qemu-img info without a sandbox when bubblewrap is missing (not advised)"
    )
    limit_param_default: int = Field(default=25, ge=1, description="page size when a list request gives no limit")
    api_limit_max: int = Field(default=1000, ge=1, description="largest page size a list request may get")
    reject_undefined_image_properties: bool = Field(
        default=False, description="refuse custom image properties that neither the catalog nor the image schema defines"
    )
    image_property_quota: int = Field(default=128, description="custom properties per image; negative = unlimited")
    image_tag_quota: int = Field(default=128, description="tags per image; negative = unlimited")
    image_member_quota: int = Field(default=128, description="members per image; negative = unlimited")
    image_location_quota: int = Field(default=10, description="locations per image; negative = unlimited")
    image_properties_max_bytes: int = Field(
        default=256 * 1024, ge=1024, description="total UTF-8 bytes of one image's property names and values"
    )
    max_list_tags: int = Field(default=20, ge=1, description="tag filters one image list request may give")
    max_list_in_values: int = Field(default=100, ge=1, description="values one 'in:' list filter may hold")
    max_list_property_filters: int = Field(
        default=20, ge=1, description="property filters one image list request may give"
    )
    upload_lease_seconds: float = Field(
        default=15.0, ge=1, description="an upload whose worker has not renewed its lease for this long is "
                                        "abandoned: its image returns to queued (checked on every node)"
    )
    delayed_delete: bool = Field(
        default=False, description="deleting an image with data moves it to pending_delete and keeps its data until "
                                   "the scrubber removes it (after scrub_time); an operator can restore it until then"
    )
    scrub_time: float = Field(default=0.0, ge=0, description="seconds a pending_delete image's data is kept")
    scrub_interval: float = Field(
        default=300.0, ge=0, description="seconds between the scrubber's runs in each API process (0: only "
                                         "glimpse-manage scrub); each image is claimed in the database, so once"
    )
    import_lease_seconds: float = Field(
        default=120.0, ge=1, description="an import task with no sign of life for this long is failed (its node "
                                         "died): its image returns to queued, or stays active for copy-image"
    )
    staging_time_to_live: float = Field(
        default=86400.0, gt=0, description="seconds staged data waits for its import; then it is removed and its "
                                           "image returns to queued"
    )

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

    @field_validator("import_methods")
    @classmethod
    def _known_import_methods(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {"glance-direct", "web-download", "copy-image", "glance-download"})
        if unknown:
            raise ValueError(f"unknown import method(s) {', '.join(unknown)}; use glance-direct, web-download, "
                             "copy-image, glance-download")
        return value

    @field_validator("import_plugins")
    @classmethod
    def _known_import_plugins(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {"image-decompression", "image-conversion"})
        if unknown:
            raise ValueError(f"unknown import plugin(s) {', '.join(unknown)}; use image-decompression, "
                             "image-conversion")
        return value

    @field_validator("image_conversion_output_format")
    @classmethod
    def _convertible_format(cls, value: str) -> str:
        if value not in ("raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi"):
            raise ValueError("image_conversion_output_format must be one of raw, qcow2, vmdk, vhd, vhdx, vdi")
        return value

    @field_validator("auth_strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        installed = sorted({ep.name for ep in entry_points(group=AUTH_GROUP)})
        if not installed:  # an install from before the strategies became entry points
            raise ValueError(f"no authentication strategy is installed (entry points of group {AUTH_GROUP}); "
                             "reinstall glimpse (pip install -e .)")
        if value not in installed:
            raise ValueError(f"unknown authentication strategy {value!r}; installed: {', '.join(installed) or 'none'} "
                             f"(entry points of group {AUTH_GROUP})")
        return value

    @field_validator("property_protection_rule_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in ("roles", "policies"):
            raise ValueError("property_protection_rule_format must be roles or policies")
        return value

    @field_validator("p2p_piece_size")
    @classmethod
    def _piece_size(cls, value: int) -> int:
        if value and (value < 16 * 1024 or value & (value - 1)):
            raise ValueError("p2p_piece_size must be 0 or a power of two of 16384 or more")
        return value

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

    def _default_staging(self) -> dict[str, Any]:
        """The staging area when ``staging_store`` is not given: the default store when it is remote (every node
        reaches it; staged objects named ``os_glance_staging_<id>``), else a directory under the data dir."""
        default = self.stores.get(self.default_store, {})
        if self.staging_path is None and default.get("driver", "filesystem") != "filesystem":
            kept = {k: v for k, v in default.items() if k not in ("description", "weight", "read_only")}
            return {**kept, "key_prefix": STAGING_KEY_PREFIX}
        return {"driver": "filesystem", "path": str(self.staging_path or self.data_dir / "staging")}

    @model_validator(mode="after")
    def _fill_derived(self) -> Settings:
        self.data_dir = self.data_dir.expanduser()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'glimpse.db'}"
        if not self.stores:
            self.stores = {"file": {"driver": "filesystem", "path": str(self.data_dir / "images")}}
        for store_id, options in self.stores.items():
            if store_id.startswith("os_glance"):
                raise ValueError(f"store id {store_id!r} is reserved (os_glance* ids are for internal stores)")
            if "driver" not in options:
                raise ValueError(f"store {store_id!r} needs a 'driver'")
            if not isinstance(options.get("read_only", False), bool):
                raise ValueError(f"store {store_id!r}: read_only must be true or false")
        if not self.staging_store:
            self.staging_store = self._default_staging()
        if "driver" not in self.staging_store:
            raise ValueError("staging_store needs a 'driver'")
        if self.default_store not in self.stores:
            raise ValueError(f"default_store {self.default_store!r} is not one of the stores: {', '.join(self.stores)}")
        if self.stores[self.default_store].get("read_only"):
            raise ValueError(f"default_store {self.default_store!r} is read-only; new image data needs a writable "
                             "store")
        if "extensions" not in self.model_fields_set and self.role != "all":
            # the web console is on by default only where it is whole (a registry or streaming node alone is not)
            self.extensions = [name for name in self.extensions if name != "console"]
        if not self.notification_publisher_id:
            self.notification_publisher_id = f"image.{socket.gethostname()}"
        if self.auth_strategy == "keystone" and not (
            self.keystone_url and self.keystone_username and self.keystone_password
        ):
            raise ValueError("auth_strategy keystone needs keystone_url, keystone_username and keystone_password")
        for name in ("tls_cert_file", "tls_key_file", "tls_client_ca_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).expanduser().is_file():
                raise ValueError(f"{name} {path} is not a readable file")
        if (self.tls_key_file or self.tls_client_ca_file) and not self.tls_cert_file:
            raise ValueError("tls_key_file and tls_client_ca_file need tls_cert_file")
        if self.limit_param_default > self.api_limit_max:
            raise ValueError("limit_param_default cannot exceed api_limit_max")
        return self


def query_limits(settings: Settings) -> dict[str, int]:
    """The keyword arguments of :func:`glimpse.domain.queries.parse_image_query` these settings set."""
    return {"default_limit": settings.limit_param_default, "max_limit": settings.api_limit_max,
            "max_tags": settings.max_list_tags, "max_values": settings.max_list_in_values,
            "max_properties": settings.max_list_property_filters}
