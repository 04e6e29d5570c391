"""The internal Python API served over AMQP (request/reply), and its client."""
