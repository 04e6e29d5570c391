"""Log records of a node: text or JSON lines, each carrying the request it belongs to, none carrying secrets.

The request id lives in a context variable (:data:`request_id`) set by the
access layer for each request; worker threads started with ``anyio.to_thread``
and import tasks submitted with a copied context inherit it, so service-layer
and task log lines name the request that caused them.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
from typing import Any

#: The id of the request being served (``"-"`` outside any request).
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("glimpse_request_id", default="-")

#: Loggers whose records we compose ourselves from known fields (no secrets can reach them).
_TRUSTED = "glimpse.access"
#: ``password=...``, ``"token": "..."``, ``X-Auth-Token: ...``, ``secret_key = ...``: the value is replaced.
_SECRET_FIELD = re.compile(
    r"""(?ix)
    ( (?:x-auth-token|x-subject-token|password|passwd|secret(?:_access)?_key|secret|token|
         access_key|private_key|api_key)
      ["']?\s*[:=]\s*["']? )
    ( [^\s"',;&}]+ )""")
#: ``Authorization: <scheme> <credentials>``: everything after the colon.
_AUTHORIZATION = re.compile(r"""(?i)(authorization["']?\s*[:=]\s*["']?)([^"'\n,}]+)""")
#: Credentials in URLs: ``scheme://user:password@host``.
_URL_CREDENTIALS = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@/\s]+)(@)")
REDACTED = "***"


def redact(text: str) -> str:
    """``text`` with values that look like credentials replaced by ``***``."""
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SECRET_FIELD.sub(lambda m: m.group(1) + REDACTED, text)
    return _URL_CREDENTIALS.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)


class RequestContextFilter(logging.Filter):
    """Stamps every record with the current request id, and scrubs credentials from untrusted messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        if record.name != _TRUSTED:
            message = record.getMessage()
            scrubbed = redact(message)
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>: [<request id>] <message>``; without the brackets outside any request."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(request_prefix)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request = getattr(record, "request_id", "-")
        record.request_prefix = f"[{request}] " if request != "-" else ""
        return super().format(record)


def configure(level: str, log_format: str) -> None:
    """Send every log record to stderr as ``log_format`` (``text`` or ``json``) lines from ``level`` up."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if level != "trace" else "DEBUG")
    for name in ("gunicorn.error", "uvicorn.error"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True


def gunicorn_logger_class() -> type:
    """A gunicorn logger class whose records go through the handlers :func:`configure` installed."""
    from gunicorn import glogging

    class _Log(glogging.Logger):  # type: ignore[misc]
        def setup(self, cfg: Any) -> None:
            self.error_log.setLevel(self.LOG_LEVELS.get(cfg.loglevel.lower(), logging.INFO))
            self.error_log.propagate = True
            for old in list(self.error_log.handlers):
                self.error_log.removeHandler(old)
            self.access_log.propagate = False

    return _Log
