"""The composition root: the one place a node is wired together.

In one direction only: settings → infrastructure (database engine, stores,
repositories, extensions; the clock is :mod:`glimpse.clock`, the broker a
setting the notifications and RPC extensions connect to) → services →
transports (the HTTP application of :mod:`glimpse.app`, the RPC server and
background tasks that extensions add through their hooks, the worker processes
of :mod:`glimpse.server.workers`). Transports are handed the services they use,
never the database or a repository: what they need of the infrastructure
(the image cache the workers keep warm, the database figures of ``/metrics``)
is passed to them here, as a narrow protocol.

Commands and tests use :func:`open_services`; ``glimpse-api`` uses :func:`serve`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.types import ASGIApp

from glimpse.app import build_app
from glimpse.db.engine import Database
from glimpse.db.images import ImageRepository
from glimpse.db.leases import LocationLeases
from glimpse.db.members import MemberRepository
from glimpse.db.metadefs import MetadefRepository
from glimpse.db.migrate import upgrade
from glimpse.db.outbox import OutboxRepository
from glimpse.db.quotas import QuotaRepository
from glimpse.db.statistics import StatisticsRepository
from glimpse.db.swarm import SwarmRepository
from glimpse.db.tables import template_members as template_members_table
from glimpse.db.tasks import TaskRepository
from glimpse.db.templates import TemplateRepository
from glimpse.db.tokens import TokenRepository
from glimpse.domain.schemas import ImageSchema, load_custom_properties
from glimpse.extensions.manager import Extensions, load_extensions
from glimpse.formats import InspectionRules
from glimpse.formats.qemu import QemuImgView
from glimpse.observability.state import DatabaseFigures
from glimpse.policy import Policy
from glimpse.policy.properties import PropertyProtections
from glimpse.server import workers
from glimpse.services import Services
from glimpse.services.access import ImageAccess
from glimpse.services.catalog import PropertyCatalog
from glimpse.services.health import HealthChecks
from glimpse.services.image_checks import FormatGate
from glimpse.services.image_data import CHUNK_SIZE, ImageDataService
from glimpse.services.images import ImageService
from glimpse.services.imports import ImportService
from glimpse.services.ingest import IngestPipeline
from glimpse.services.locations import LocationService
from glimpse.services.maintenance import MaintenanceService
from glimpse.services.members import MemberService
from glimpse.services.metadef_contents import MetadefContentService
from glimpse.services.metadefs import MetadefAccess, MetadefService
from glimpse.services.outbox_messages import OutboxMessages
from glimpse.services.properties import PropertyService
from glimpse.services.quotas import ImageLimits, ProjectQuotas
from glimpse.services.stores import StoreSet, open_store_set
from glimpse.services.swarm import SwarmService
from glimpse.services.tasks import TaskService
from glimpse.services.template_members import TemplateMemberService
from glimpse.services.templates import TemplateService
from glimpse.services.tokens import TokenService
from glimpse.settings import Settings

__all__ = ["Infrastructure", "Node", "open_infrastructure", "build_services", "open_services", "open_node",
           "serve"]


@dataclass
class Infrastructure:
    """What the services are built on: the database and what is kept in it, the stores, the extensions."""

    settings: Settings
    database: Database
    stores: StoreSet
    extensions: Extensions
    image_repository: ImageRepository
    outbox: OutboxRepository

    def close(self) -> None:
        if self.image_repository.leases is not None:
            self.image_repository.leases.close()
        self.database.dispose()


def open_infrastructure(settings: Settings, *, migrate: bool = True) -> Infrastructure:
    """Connect to the database and the stores ``settings`` name (migrating the database first with ``migrate``).

    Raises :class:`glimpse.extensions.manager.ExtensionNotFound` when the
    settings enable an extension that is not installed.
    """
    extensions = load_extensions(settings)
    database = Database(settings.database_url, statement_timeout=settings.database_statement_timeout)
    if migrate:
        upgrade(database)
    image_repository = ImageRepository(
        database, leases=LocationLeases(database, renew_every=settings.upload_lease_seconds / 3))
    return Infrastructure(settings=settings, database=database, stores=open_store_set(settings),
                          extensions=extensions, image_repository=image_repository,
                          outbox=OutboxRepository(database))


def format_gate(settings: Settings) -> FormatGate:
    """The format seam as the settings configure it (the inspector's rules, and qemu-img if installed)."""
    rules = InspectionRules(max_virtual_size=settings.image_max_virtual_size,
                            refuse_archives=settings.image_refuse_archive_containers)
    qemu = QemuImgView.find(enabled=settings.image_check_with_qemu_img,
                            allow_unsandboxed=settings.image_qemu_img_unsandboxed)
    return FormatGate(rules, qemu, require_match=settings.require_image_format_match)


def build_services(infrastructure: Infrastructure) -> Services:
    """The service layer over ``infrastructure``; closing the services releases it."""
    settings, database, stores = infrastructure.settings, infrastructure.database, infrastructure.stores
    extensions, image_repository = infrastructure.extensions, infrastructure.image_repository
    custom, required = load_custom_properties(settings.image_schema_file)
    schema = ImageSchema(settings.disk_formats, settings.container_formats, custom, required)
    policy = Policy.from_file(settings.policy_file)
    protections = PropertyProtections.from_file(settings.property_protection_file,
                                                rule_format=settings.property_protection_rule_format, policy=policy)
    access = ImageAccess(image_repository, MemberRepository(database), policy, protections,
                         extensions=extensions)
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
    image_data = ImageDataService(access, stores, quotas, limits, infrastructure.outbox, ingest,
                                  size_cap=settings.image_size_cap)
    task_repository = TaskRepository(database)
    imports = ImportService(access, image_data, stores, task_repository, quotas, ingest,
                            size_cap=settings.image_size_cap, threads=settings.import_threads,
                            task_lifetime=dt.timedelta(seconds=settings.task_time_to_live), limits=limits)
    images = ImageService(access, schema, limits, stores, quotas, catalog, delayed_delete=settings.delayed_delete)
    template_member_repository = MemberRepository(database, template_members_table)
    templates = TemplateService(TemplateRepository(database), template_member_repository, access, policy, extensions)
    readiness = HealthChecks(
        database, stores, min_free_bytes=settings.health_min_free_bytes,
        identity_url=settings.keystone_url if settings.auth_strategy == "keystone" else None,
        broker_url=settings.amqp_url)
    services = Services(
        settings=settings,
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
        extensions=extensions,
        outbox_messages=OutboxMessages(infrastructure.outbox),
        catalog=catalog,
        properties=PropertyService(access, schema, limits, catalog),
        metadefs=MetadefService(metadef_access),
        metadef_contents=MetadefContentService(metadef_access),
        templates=templates,
        template_members=TemplateMemberService(templates, template_member_repository, policy, limits),
        swarm=SwarmService(SwarmRepository(database), image_repository, stores,
                           node_timeout=settings.p2p_node_timeout),
        readiness=readiness,
        reads_inline=image_repository.reader.inline,
        release=infrastructure.close,
    )
    imports.enable((method for methods in extensions.hook.register_import_methods(services=services)
                    for method in methods),
                   (plugin for plugins in extensions.hook.register_import_plugins(services=services)
                    for plugin in plugins))
    extensions.hook.services_opened(services=services)
    return services


def open_services(settings: Settings, *, migrate: bool = True) -> Services:
    """The services of a node configured by ``settings``, on infrastructure opened for them alone."""
    return build_services(open_infrastructure(settings, migrate=migrate))


@dataclass
class Node:
    """One serving process: its infrastructure, its services and its HTTP application."""

    infrastructure: Infrastructure
    services: Services
    app: ASGIApp

    @property
    def image_cache(self) -> ImageRepository:
        """The image cache the workers keep warm with their siblings' writes (:class:`workers.ImageCache`)."""
        return self.infrastructure.image_repository


def open_node(settings: Settings, *, migrate: bool = True) -> Node:
    """Infrastructure, services and the HTTP application of one node, wired."""
    infrastructure = open_infrastructure(settings, migrate=migrate)
    services = build_services(infrastructure)
    figures = DatabaseFigures(StatisticsRepository(infrastructure.database), max_age=settings.metrics_cache_seconds)
    app = build_app(settings, services, figures=figures, engine=infrastructure.database.engine)
    return Node(infrastructure, services, app)


def http_app(settings: Settings, *, migrate: bool = True) -> ASGIApp:
    """The ASGI application of a node configured by ``settings`` (for ``uvicorn.run`` and tests)."""
    return open_node(settings, migrate=migrate).app


def serve(settings: Settings) -> None:
    """Serve ``settings.workers`` worker processes, each building its node here, after the fork."""
    workers.serve(settings, lambda: _worker_node(settings))


def _worker_node(settings: Settings) -> workers.WorkerNode:
    node = open_node(settings, migrate=False)  # the database was migrated before the fork
    return workers.WorkerNode(app=node.app, image_cache=node.image_cache)
