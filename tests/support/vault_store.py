"""A third-party store driver for tests, installed with its own entry point (``glimpse.stores``: ``vault``).

It keeps objects in a directory like the filesystem store, but is configured
like a remote backend: an endpoint URL, credentials and a region, and it
connects at start-up. Tests use it to see that credentials are never shown and
that a bad configuration or an unreachable backend stops a node in one line.
"""

from __future__ import annotations

from pathlib import Path

from glimpse.stores.base import StoreConfigError, StoreUnavailableError
from glimpse.stores.filesystem import FilesystemStore, PendingFile

REGIONS = ("north", "south")


class VaultStore(FilesystemStore):
    def __init__(self, *, path: str, endpoint: str, access_key: str, secret_key: str, region: str = "north",
                 reachable: bool = True, refuse_writes: bool = False) -> None:
        if region not in REGIONS:
            raise StoreConfigError("region", f"{region!r} is not a region; choose one of {', '.join(REGIONS)}")
        if not reachable:
            raise StoreUnavailableError(f"cannot connect to {endpoint.split('@')[-1]}: connection refused")
        super().__init__(path=path)
        self.endpoint = endpoint
        self.region = region
        self.refuse_writes = refuse_writes

    def begin(self, key: str, *, size: int | None = None) -> PendingFile:
        if self.refuse_writes:
            raise StoreUnavailableError("the vault answered 503: writes are suspended")
        return super().begin(key, size=size)


def install(site: Path) -> Path:
    """Install this module as a distribution in ``site`` (a directory for ``PYTHONPATH``); returns ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "glimpse_test_vault.py").write_text(Path(__file__).read_text())
    info = site / "glimpse_test_vault-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: glimpse-test-vault\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[glimpse.stores]\nvault = glimpse_test_vault:VaultStore\n")
    return site
