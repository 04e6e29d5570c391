"""The built-in ``notifications`` extension.

Every change to an image or its members becomes an oslo.messaging
notification (``image.create``, ``image.update``, ``image.prepare``,
``image.upload``, ``image.activate``, ``image.delete``, ``image.send``,
``image.member.*``), and every change to a server template (``template.create``,
``template.update``, ``template.delete``), written to the outbox in the change's transaction and
published by a relay running in each node: to RabbitMQ when ``amqp_url`` is
set, else to the log (logger ``glimpse.notifications``, level INFO).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from glimpse.domain.events import DomainEvent, OutboxMessage, TemplateEvent
from glimpse.extensions.hookspecs import hookimpl
from glimpse.notifications.payloads import is_disabled, notification, template_notification
from glimpse.notifications.publishers import AmqpPublisher, LogPublisher, Publisher
from glimpse.notifications.relay import OutboxRelay

if TYPE_CHECKING:
    from glimpse.services import Services
    from glimpse.settings import Settings

NAME = "Notifications"
DESCRIPTION = ("Publishes every image and member change as an OpenStack (oslo.messaging) notification, "
               "reliably, through a transactional outbox.")
DOCS = "docs/amqp.md#notifications"


@hookimpl(trylast=True)
def change_committing(settings: Settings, event: DomainEvent) -> Sequence[OutboxMessage]:
    if is_disabled(event.name, settings.disabled_notifications):
        return []
    return [notification(event, settings.notification_publisher_id)]


@hookimpl(trylast=True)
def template_change_committing(settings: Settings, event: TemplateEvent) -> Sequence[OutboxMessage]:
    if is_disabled(event.name, settings.disabled_notifications):
        return []
    return [template_notification(event, settings.notification_publisher_id)]


@hookimpl(trylast=True)
def register_background_tasks(services: Services) -> Sequence[Callable[[], Awaitable[None]]]:
    settings = services.settings
    publisher: Publisher = LogPublisher()
    if settings.amqp_url:
        publisher = AmqpPublisher(settings.amqp_url, exchange=settings.notification_exchange,
                                  topics=settings.notification_topics, durable=settings.amqp_durable)
    relay = OutboxRelay(services.outbox_messages, publisher, poll_interval=settings.outbox_poll_interval,
                        retention=dt.timedelta(seconds=settings.outbox_retention))
    return [relay.run]
