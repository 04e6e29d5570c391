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

from dataclasses import dataclass

from glimpse.db.engine import Database
from glimpse.db.images import ImageRepository
from glimpse.db.leases import LocationLeases
from glimpse.db.members import MemberRepository
from glimpse.db.metadefs import MetadefRepository
from glimpse.db.migrate import upgrade
from glimpse.db.outbox import OutboxRepository
from glimpse.db.quotas import QuotaRepository
from glimpse.db.tasks import TaskRepository
from glimpse.db.tokens import TokenRepository
from glimpse.domain.schemas import ImageSchema, load_custom_properties
from glimpse.extensions.manager import Extensions, load_extensions
from glimpse.services.access import ImageAccess
from glimpse.services.catalog import PropertyCatalog
from glimpse.services.image_data import ImageDataService
from glimpse.services.images import ImageService
from glimpse.services.imports import ImportService
from glimpse.services.tasks import TaskService
from glimpse.services.maintenance import MaintenanceService
from glimpse.services.members import MemberService
from glimpse.services.metadef_contents import MetadefContentService
from glimpse.services.metadefs import MetadefAccess, MetadefService
from glimpse.policy import Policy
from glimpse.policy.properties import PropertyProtections
from glimpse.services.properties import PropertyService
from glimpse.services.quotas import ImageLimits, ProjectQuotas
from glimpse.services.stores import StoreSet
from glimpse.services.tokens import TokenService
from glimpse.settings import Settings
from glimpse.stores.base import StoreError
from glimpse.stores.loader import load_stores

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
    members: MemberService
    quotas: ProjectQuotas
    policy: Policy
    tokens: TokenService
    maintenance: MaintenanceService
    image_repository: ImageRepository
    extensions: Extensions
    outbox: OutboxRepository
    imports: ImportService
    tasks: TaskService
    catalog: PropertyCatalog
    properties: PropertyService
    metadefs: MetadefService
    metadef_contents: MetadefContentService

    def health(self) -> dict[str, str]:
        """``{"database": "ok", "store:file": "ok", ...}``; failing parts carry their error."""
        report: dict[str, str] = {}
        try:
            self.database.ping()
            report["database"] = "ok"
        except Exception as exc:  # any driver error means unhealthy
            report["database"] = f"error: {exc.__class__.__name__}: {exc}"
        for store_id, store in self.stores.stores.items():
            try:
                store.check()
                report[f"store:{store_id}"] = "ok"
            except StoreError as exc:
                report[f"store:{store_id}"] = f"error: {exc}"
        return report

    def close(self) -> None:
        self.imports.close()
        if self.image_repository.leases is not None:
            self.image_repository.leases.close()
        self.database.dispose()


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
    stores = StoreSet(
        stores=load_stores(settings.stores),
        default=settings.default_store,
        descriptions={k: str(v.get("description", "")) for k, v in settings.stores.items()},
    )
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
    image_data = ImageDataService(
        access, stores, quotas, limits, outbox, size_cap=settings.image_size_cap,
        hash_algorithm=settings.hashing_algorithm, require_format_match=settings.require_image_format_match,
    )
    task_repository = TaskRepository(database)
    imports = ImportService(access, image_data, stores, task_repository, quotas,
                            size_cap=settings.image_size_cap, threads=settings.import_threads,
                            task_lifetime=dt.timedelta(seconds=settings.task_time_to_live))
    images = ImageService(access, schema, limits, stores, quotas, catalog)
    services = Services(
        settings=settings,
        database=database,
        schema=schema,
        stores=stores,
        images=images,
        image_data=image_data,
        imports=imports,
        tasks=TaskService(task_repository, images, imports, policy, default_limit=settings.limit_param_default,
                          max_limit=settings.api_limit_max),
        members=MemberService(access, limits),
        quotas=quotas,
        policy=policy,
        tokens=TokenService(TokenRepository(database)),
        maintenance=MaintenanceService(access, stores, imports, task_repository),
        image_repository=image_repository,
        extensions=extensions,
        outbox=outbox,
        catalog=catalog,
        properties=PropertyService(access, schema, limits, catalog),
        metadefs=MetadefService(metadef_access),
        metadef_contents=MetadefContentService(metadef_access),
    )
    imports.enable(method for methods in extensions.hook.register_import_methods(services=services)
                   for method in methods)
    return services
