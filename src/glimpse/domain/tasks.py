"""Tasks: asynchronous work on an image (interoperable image import), as the Images API shows it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TaskStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILURE = "failure"


#: Allowed task transitions.
TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.PROCESSING, TaskStatus.FAILURE}),
    TaskStatus.PROCESSING: frozenset({TaskStatus.SUCCESS, TaskStatus.FAILURE}),
    TaskStatus.SUCCESS: frozenset(),
    TaskStatus.FAILURE: frozenset(),
}

IMPORT_TASK_TYPE = "api_image_import"


@dataclass(frozen=True)
class Task:
    id: str
    type: str
    status: TaskStatus
    owner: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    image_id: str | None = None
    request_id: str | None = None
    user_id: str | None = None
    input: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    message: str = ""
    expires_at: dt.datetime | None = None
