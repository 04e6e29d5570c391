"""The service layer: Glimpse's internal Python API.

Every transport (HTTP, RPC, the commands) is a thin adapter over these
objects; none of them holds the database or a repository. The composition
root, :mod:`glimpse.composition`, builds them::

    from glimpse.composition import open_services
    from glimpse.context import RequestContext
    from glimpse.settings import Settings

    services = open_services(Settings(data_dir="/tmp/glimpse"))
    ctx = RequestContext.for_project("demo")
    image = services.images.create(ctx, {"name": "cirros", "disk_format": "raw", "container_format": "bare"})
    services.image_data.upload(ctx, image.id, [b"bytes", b"of the image"])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from glimpse.domain.schemas import ImageSchema
from glimpse.extensions.manager import Extensions
from glimpse.policy import Policy
from glimpse.services.catalog import PropertyCatalog
from glimpse.services.health import HealthChecks
from glimpse.services.image_checks import FormatGate
from glimpse.services.image_data import ImageDataService
from glimpse.services.images import ImageService
from glimpse.services.imports import ImportService
from glimpse.services.locations import LocationService
from glimpse.services.maintenance import MaintenanceService
from glimpse.services.members import MemberService
from glimpse.services.metadef_contents import MetadefContentService
from glimpse.services.metadefs import MetadefService
from glimpse.services.outbox_messages import OutboxMessages
from glimpse.services.properties import PropertyService
from glimpse.services.quotas import ProjectQuotas
from glimpse.services.stores import StoreSet
from glimpse.services.swarm import SwarmService
from glimpse.services.tasks import TaskService
from glimpse.services.template_members import TemplateMemberService
from glimpse.services.templates import TemplateService
from glimpse.services.tokens import TokenService
from glimpse.settings import Settings

__all__ = ["Services"]

@dataclass
class Services:
    """Everything a transport needs, wired for one node."""

    settings: Settings
    schema: ImageSchema
    stores: StoreSet
    images: ImageService
    image_data: ImageDataService
    format_gate: FormatGate
    members: MemberService
    quotas: ProjectQuotas
    policy: Policy
    tokens: TokenService
    maintenance: MaintenanceService
    extensions: Extensions
    outbox_messages: OutboxMessages
    imports: ImportService
    locations: LocationService
    tasks: TaskService
    catalog: PropertyCatalog
    properties: PropertyService
    metadefs: MetadefService
    metadef_contents: MetadefContentService
    templates: TemplateService
    template_members: TemplateMemberService
    #: the streaming nodes' registry and images' piece hashes (used by the ``p2p`` extension)
    swarm: SwarmService
    #: the node's readiness checks (:mod:`glimpse.services.health`)
    readiness: HealthChecks
    #: True when image reads are local and never wait (SQLite in WAL mode): the edge runs them inline
    reads_inline: bool
    #: what :meth:`close` releases after the services: the infrastructure they were built on
    release: Callable[[], None] = field(default=lambda: None, repr=False)

    def health(self) -> dict[str, str]:
        """``{"database": "ok", "store:file": "ok", ...}``; failing parts carry a short reason (no driver text)."""
        return {part.name: part.detail for part in self.health_checks().run()}

    def health_checks(self) -> HealthChecks:
        """The node's readiness checks (:mod:`glimpse.services.health`)."""
        return self.readiness

    def close(self) -> None:
        """Stop the services' threads, then release what they were built on."""
        self.imports.close()
        self.release()
