"""Credentials never reach a log line, whatever code writes them."""

from __future__ import annotations

import io
import logging

import pytest

from glimpse.observability.logging import JsonFormatter, RequestContextFilter, TextFormatter, redact


@pytest.mark.parametrize("text,secret", [
    ("X-Auth-Token: gAAAAAB-abc.def", "gAAAAAB-abc.def"),
    ("headers {'X-Auth-Token': 'tok-123'}", "tok-123"),
    ('{"password": "hunter2", "user": "glance"}', "hunter2"),
    ("keystone_password=s3cr3t other=1", "s3cr3t"),
    ("store s3: secret_key = 'AKIAsecretvalue' bucket=b", "AKIAsecretvalue"),
    ("access_key=AKIA1234 and more", "AKIA1234"),
    ("connecting to amqp://glimpse:rabbit-pass@broker:5672/", "rabbit-pass"),
    ("postgresql+psycopg://glimpse:db-pass@db/glimpse failed", "db-pass"),
    ("Authorization: Bearer abc", "abc"),
])
def test_credentials_are_replaced(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "***" in redact(text)


def test_text_without_credentials_is_untouched() -> None:
    text = 'GET /v2/images?name=token-list 200 "tokens" project=p user=u'
    assert redact(text) == text


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_a_logged_secret_and_exception_are_scrubbed(formatter: logging.Formatter) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger(f"glimpse.test.redaction.{type(formatter).__name__}")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("keystone said no to password=%s", "Pa55w0rd")
        try:
            raise RuntimeError("cannot reach amqp://u:Amqp-S3cret@host/")
        except RuntimeError:
            logger.exception("relay failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "Pa55w0rd" not in text and "Amqp-S3cret" not in text
    assert "relay failed" in text and "RuntimeError" in text
