"""Glimpse: an image service that speaks the OpenStack Images API v2.

The internal Python API is the service layer; :func:`glimpse.composition.open_services`
builds it from :class:`glimpse.settings.Settings` without any HTTP involved.
"""

from __future__ import annotations

__version__ = "0.1.0"
