"""The notifications extension: oslo.messaging notifications, through an outbox, to RabbitMQ."""
