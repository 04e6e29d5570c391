"""The service's clock: what time it is, in the form every stored timestamp has."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Naive UTC now, the form every timestamp column holds."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
