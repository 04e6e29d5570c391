"""Image members: the projects an image with ``shared`` visibility is offered to."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class MemberStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Member:
    image_id: str
    member_id: str
    status: MemberStatus
    created_at: dt.datetime
    updated_at: dt.datetime
