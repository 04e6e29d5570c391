"""The service layer: Glimpse's internal Python API.

Every transport (HTTP today) is a thin adapter over these objects. Build them
with :func:`open_services`::

    from glimpse.context import RequestContext
    from glimpse.services import open_services
    from glimpse.settings import Settings

    services = open_services(Settings(data_dir="/tmp/glimpse"))
    ctx = RequestContext.for_project("demo")
    image = services.images.create(ctx, {"name": "cirros", "disk_format": "raw", "container_format": "bare"})
    services.image_data.upload(ctx, image.id, [b"bytes", b"of the image"])
"""

from __future__ import annotations

import datetime as dt

from dataclasses import dataclass, field

from glimpse.db.engine import Database
from glimpse.db.images import ImageRepository
from glimpse.db.leases import LocationLeases
from glimpse.db.members import MemberRepository
from glimpse.db.metadefs import MetadefRepository
from glimpse.db.migrate import upgrade
from glimpse.db.outbox import OutboxRepository
from glimpse.db.quotas import QuotaRepository
from glimpse.db.tables import template_members as template_members_table
from glimpse.db.tasks import TaskRepository
from glimpse.db.templates import TemplateRepository
from glimpse.db.tokens import TokenRepository
from glimpse.domain.schemas import ImageSchema, load_custom_properties
from glimpse.extensions.manager import Extensions, load_extensions
from glimpse.services.access import ImageAccess
from glimpse.services.health import HealthChecks
from glimpse.services.catalog import PropertyCatalog
from glimpse.formats import InspectionRules
from glimpse.formats.qemu import QemuImgView
from glimpse.services.image_data import CHUNK_SIZE, ImageDataService
from glimpse.services.image_checks import FormatGate
from glimpse.services.ingest import IngestPipeline
from glimpse.services.images import ImageService
from glimpse.services.imports import ImportService
from glimpse.services.locations import LocationService
from glimpse.services.tasks import TaskService
from glimpse.services.template_members import TemplateMemberService
from glimpse.services.templates import TemplateService
from glimpse.services.maintenance import MaintenanceService
from glimpse.services.members import MemberService
from glimpse.services.metadef_contents import MetadefContentService
from glimpse.services.metadefs import MetadefAccess, MetadefService
from glimpse.policy import Policy
from glimpse.policy.properties import PropertyProtections
from glimpse.services.properties import PropertyService
from glimpse.services.quotas import ImageLimits, ProjectQuotas
from glimpse.services.stores import StoreSet, open_store_set
from glimpse.services.tokens import TokenService
from glimpse.settings import Settings

__all__ = ["Services", "open_services"]

@dataclass
class Services:
    """Everything a transport needs, wired for one node."""

    settings: Settings
    database: Database
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
    image_repository: ImageRepository
    extensions: Extensions
    outbox: OutboxRepository
    imports: ImportService
    locations: LocationService
    tasks: TaskService
    catalog: PropertyCatalog
    properties: PropertyService
    metadefs: MetadefService
    metadef_contents: MetadefContentService
    templates: TemplateService
    template_members: TemplateMemberService
    _health: HealthChecks | None = field(default=None, init=False, repr=False)

    def health(self) -> dict[str, str]:
        """``{"database": "ok", "store:file": "ok", ...}``; failing parts carry a short reason (no driver text)."""
        return {part.name: part.detail for part in self.health_checks().run()}

    def health_checks(self) -> HealthChecks:
        """The node's readiness checks (:mod:`glimpse.services.health`), made on first use."""
        if self._health is None:
            settings = self.settings
            self._health = HealthChecks(
                self.database, self.stores, min_free_bytes=settings.health_min_free_bytes,
                identity_url=settings.keystone_url if settings.auth_strategy == "keystone" else None,
                broker_url=settings.amqp_url,
            )
        return self._health

    def close(self) -> None:
        self.imports.close()
        if self.image_repository.leases is not None:
            self.image_repository.leases.close()
        self.database.dispose()


def format_gate(settings: Settings) -> FormatGate:
    """The format seam as the settings configure it (the inspector's rules, and qemu-img if installed)."""
    rules = InspectionRules(max_virtual_size=settings.image_max_virtual_size,
                            refuse_archives=settings.image_refuse_archive_containers)
    qemu = QemuImgView.find(enabled=settings.image_check_with_qemu_img,
                            allow_unsandboxed=settings.image_qemu_img_unsandboxed)
    return FormatGate(rules, qemu, require_match=settings.require_image_format_match)


def open_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Connect to the database and stores that ``settings`` name and build the services.

    With ``migrate`` the database is first brought to the current schema.
    Raises :class:`glimpse.extensions.manager.ExtensionNotFound` when the
    settings enable an extension that is not installed.
    """
    extensions = load_extensions(settings)
    database = Database(settings.database_url, statement_timeout=settings.database_statement_timeout)
    if migrate:
        upgrade(database)
    custom, required = load_custom_properties(settings.image_schema_file)
    schema = ImageSchema(settings.disk_formats, settings.container_formats, custom, required)
    stores = open_store_set(settings)
    image_repository = ImageRepository(
        database, leases=LocationLeases(database, renew_every=settings.upload_lease_seconds / 3))
    policy = Policy.from_file(settings.policy_file)
    protections = PropertyProtections.from_file(settings.property_protection_file,
                                                rule_format=settings.property_protection_rule_format, policy=policy)
    access = ImageAccess(image_repository, MemberRepository(database), policy, protections,
                         extensions=extensions)
    outbox = OutboxRepository(database)
    limits = ImageLimits(properties=settings.image_property_quota, tags=settings.image_tag_quota,
                         members=settings.image_member_quota, locations=settings.image_location_quota,
                         property_bytes=settings.image_properties_max_bytes)
    quotas = ProjectQuotas(QuotaRepository(database), {
        "image_count_total": settings.quota_image_count_total,
        "image_size_total": settings.quota_image_size_total,
        "image_stage_total": settings.quota_image_stage_total,
        "image_count_uploading": settings.quota_image_count_uploading,
    })
    catalog = PropertyCatalog(MetadefRepository(database), image_repository,
                              reject_undefined=settings.reject_undefined_image_properties,
                              known=frozenset(custom))
    metadef_access = MetadefAccess(MetadefRepository(database), policy)
    gate = format_gate(settings)
    ingest = IngestPipeline(gate,
                            hash_algorithm=settings.hashing_algorithm, size_cap=settings.image_size_cap,
                            spool_dir=settings.data_dir / "spool", block_size=CHUNK_SIZE)
    image_data = ImageDataService(access, stores, quotas, limits, outbox, ingest, size_cap=settings.image_size_cap)
    task_repository = TaskRepository(database)
    imports = ImportService(access, image_data, stores, task_repository, quotas, ingest,
                            size_cap=settings.image_size_cap, threads=settings.import_threads,
                            task_lifetime=dt.timedelta(seconds=settings.task_time_to_live))
    images = ImageService(access, schema, limits, stores, quotas, catalog, delayed_delete=settings.delayed_delete)
    template_member_repository = MemberRepository(database, template_members_table)
    templates = TemplateService(TemplateRepository(database), template_member_repository, access, policy, extensions)
    services = Services(
        settings=settings,
        database=database,
        schema=schema,
        stores=stores,
        images=images,
        image_data=image_data,
        format_gate=gate,
        imports=imports,
        locations=LocationService(access, stores, ingest, quotas, limits),
        tasks=TaskService(task_repository, images, imports, policy, default_limit=settings.limit_param_default,
                          max_limit=settings.api_limit_max),
        members=MemberService(access, limits),
        quotas=quotas,
        policy=policy,
        tokens=TokenService(TokenRepository(database)),
        maintenance=MaintenanceService(access, stores, imports, task_repository, ingest),
        image_repository=image_repository,
        extensions=extensions,
        outbox=outbox,
        catalog=catalog,
        properties=PropertyService(access, schema, limits, catalog),
        metadefs=MetadefService(metadef_access),
        metadef_contents=MetadefContentService(metadef_access),
        templates=templates,
        template_members=TemplateMemberService(templates, template_member_repository, policy, limits),
    )
    imports.enable((method for methods in extensions.hook.register_import_methods(services=services)
                    for method in methods),
                   (plugin for plugins in extensions.hook.register_import_plugins(services=services)
                    for plugin in plugins))
    extensions.hook.services_opened(services=services)
    return services
