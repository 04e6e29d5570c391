"""What inspection concluded about an image file: its format and virtual size."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """The detected ``format`` (a Glance ``disk_format`` name) and its ``virtual_size`` in bytes."""

    format: str
    virtual_size: int
