"""Every status change consults the domain's table: each (status, operation) pair walked against it.

The operations are the service layer's use cases that change an image's status: upload, stage,
import (glance-direct), copy (copy-image, which keeps the image ``active``), deactivate, reactivate,
delete, delayed delete, restore and the scrubber's end of a delayed delete. No use case kills an
image (a failed upload or import goes back to ``queued``, as in Glance), so ``killed`` is only
ever left by delete; the walk covers it as a source status.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from glimpse import errors
from glimpse.composition import Infrastructure, build_services, open_infrastructure
from glimpse.context import RequestContext
from glimpse.domain.images import TRANSITIONS, Image, ImageStatus, Visibility, check_transition, transition
from glimpse.domain.tasks import TaskStatus
from glimpse.services import Services
from glimpse.services.imports import ImportRequest
from glimpse.settings import Settings

S = ImageStatus


def _settings(root: Path, database_url: str, **overrides: object) -> Settings:
    stores = {name: {"driver": "filesystem", "path": str(root / name)} for name in ("one", "two")}
    return Settings(data_dir=root, database_url=database_url, stores=stores, default_store="one",
                    **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def infrastructure(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Infrastructure:
    return open_infrastructure(_settings(tmp_path_factory.mktemp("status"), database_url))


@pytest.fixture(scope="module")
def services(infrastructure: Infrastructure) -> Iterator[Services]:
    built = build_services(infrastructure)
    yield built
    built.close()


@pytest.fixture(scope="module")
def delaying(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Services of a node with ``delayed_delete`` on (same database, stores of its own)."""
    built = build_services(open_infrastructure(
        _settings(tmp_path_factory.mktemp("delayed"), database_url, delayed_delete=True), migrate=False))
    yield built
    built.close()


@dataclass(frozen=True)
class Operation:
    name: str
    #: the status the operation moves an image to (the table must allow it from every source)
    target: ImageStatus
    #: the statuses the use case starts from (its precondition)
    sources: frozenset[ImageStatus]
    #: the error a caller gets from any other status
    refusal: type[errors.GlimpseError]
    run: Callable[[Services, RequestContext, str], object]
    #: the status afterwards, once any task it started has finished (None: the image is gone)
    final: ImageStatus | None
    #: run on the node with delayed delete
    delayed: bool = False


def _import(method: str, **request: object) -> Callable[[Services, RequestContext, str], object]:
    return lambda sv, ctx, image_id: sv.imports.start(ctx, image_id, ImportRequest(method, **request))  # type: ignore[arg-type]


OPERATIONS = [
    Operation("delete", S.DELETED, frozenset(s for s in S if s is not S.DELETED), errors.ImageStatusConflict,
              lambda sv, ctx, image_id: sv.images.delete(ctx, image_id), None),
    Operation("delayed delete", S.PENDING_DELETE, frozenset({S.ACTIVE, S.DEACTIVATED}), errors.ImageStatusConflict,
              lambda sv, ctx, image_id: sv.images.delete(ctx, image_id), None, delayed=True),
    Operation("deactivate", S.DEACTIVATED, frozenset({S.ACTIVE, S.DEACTIVATED}), errors.InvalidStateForAction,
              lambda sv, ctx, image_id: sv.images.deactivate(ctx, image_id), S.DEACTIVATED),
    Operation("reactivate", S.ACTIVE, frozenset({S.DEACTIVATED, S.ACTIVE}), errors.InvalidStateForAction,
              lambda sv, ctx, image_id: sv.images.reactivate(ctx, image_id), S.ACTIVE),
    Operation("upload", S.SAVING, frozenset({S.QUEUED}), errors.ImageStatusConflict,
              lambda sv, ctx, image_id: sv.image_data.upload(ctx, image_id, iter([b"data"])), S.ACTIVE),
    Operation("stage", S.UPLOADING, frozenset({S.QUEUED}), errors.ImageStatusConflict,
              lambda sv, ctx, image_id: sv.imports.stage(ctx, image_id, iter([b"staged"])), S.UPLOADING),
    Operation("import", S.IMPORTING, frozenset({S.UPLOADING}), errors.Conflict, _import("glance-direct"), S.ACTIVE),
    Operation("copy", S.ACTIVE, frozenset({S.ACTIVE}), errors.Conflict, _import("copy-image", stores=("two",)),
              S.ACTIVE),
]
#: Statuses an image can be found in (a deleted one is gone: 404 for every operation; so is one pending delete).
LIVE = [s for s in S if s not in (S.DELETED, S.PENDING_DELETE)]


def image_in(services: Services, infrastructure: Infrastructure, ctx: RequestContext, status: ImageStatus) -> str:
    """A new image of ``ctx``'s project in ``status``: through the use cases where it holds data (active,
    deactivated, uploading), else put straight into ``status`` by the repository (below the table)."""
    image = services.images.create(ctx, {"name": f"in-{status}", "disk_format": "raw", "container_format": "bare"})
    if status in (S.ACTIVE, S.DEACTIVATED, S.PENDING_DELETE):
        image = services.image_data.upload(ctx, image.id, [b"active data"])
        if status is S.DEACTIVATED:
            services.images.deactivate(ctx, image.id)
    elif status is S.UPLOADING:
        services.imports.stage(ctx, image.id, [b"staged data"])
    if status in (S.SAVING, S.IMPORTING, S.KILLED, S.PENDING_DELETE):  # a pending delete keeps its data
        stored = infrastructure.image_repository.update(image, dataclasses.replace(image, status=status))
        assert stored is not None and stored.status is status
    assert infrastructure.image_repository.get(image.id).status is status  # type: ignore[union-attr]
    return image.id


def settled(services: Services, ctx: RequestContext, image_id: str) -> Image:
    """The image once the task an operation started (import, copy) has finished.

    The tasks are read first: the service settles the image before it ends the task, so the image read
    after no task is running is the outcome (read before, it could still show ``importing``).
    """
    deadline = time.monotonic() + 60
    while True:
        running = [t for t in services.imports.tasks_for_image(ctx, image_id)
                   if t.status in (TaskStatus.PENDING, TaskStatus.PROCESSING)]
        image = services.images.get(ctx, image_id)
        if not running:
            return image
        if time.monotonic() > deadline:  # where the import threads are: what the task waits for
            frames = sys._current_frames()
            stacks = "\n".join(f"--- {thread.name}\n" + "".join(traceback.format_stack(frames[thread.ident]))
                               for thread in threading.enumerate()
                               if thread.name.startswith("glimpse-import") and thread.ident in frames)
            pytest.fail(f"image {image_id} is still {image.status} after 60 s; tasks {running}\n{stacks}")
        time.sleep(0.05)


def allowed(operation: Operation, status: ImageStatus) -> bool:
    return status in operation.sources and (status is operation.target or operation.target in TRANSITIONS[status])


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_no_operation_starts_from_a_status_the_table_does_not_connect_to_its_target(operation: Operation) -> None:
    for source in operation.sources:
        if source is not operation.target:
            assert operation.target in TRANSITIONS[source], f"{operation.name}: {source} -> {operation.target}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
@pytest.mark.parametrize("status", LIVE, ids=str)
def test_an_operation_on_an_image_in_each_status_follows_the_table(
        services: Services, delaying: Services, infrastructure: Infrastructure, status: ImageStatus,
        operation: Operation) -> None:
    ctx = RequestContext.for_project(uuid.uuid4().hex)
    image_id = image_in(services, infrastructure, ctx, status)
    node = delaying if operation.delayed else services
    if operation.delayed and status not in operation.sources:  # an image without data to keep: deleted at once
        operation.run(node, ctx, image_id)
        assert infrastructure.image_repository.get(image_id) is None
        return
    if not allowed(operation, status):
        with pytest.raises(operation.refusal):
            operation.run(node, ctx, image_id)
        assert services.images.get(ctx, image_id).status is status  # nothing changed
        return
    operation.run(node, ctx, image_id)
    if operation.final is None:
        with pytest.raises(errors.ImageNotFound):
            services.images.get(ctx, image_id)
    else:
        after = settled(services, ctx, image_id)
        assert after.status is operation.final, after
    if operation.delayed:
        assert infrastructure.image_repository.get(image_id).status is S.PENDING_DELETE  # type: ignore[union-attr]


def test_copy_puts_the_data_in_the_other_store_and_keeps_the_image_active(
        services: Services, infrastructure: Infrastructure) -> None:
    ctx = RequestContext.for_project(uuid.uuid4().hex)
    image_id = image_in(services, infrastructure, ctx, S.ACTIVE)
    _import("copy-image", stores=("two",))(services, ctx, image_id)
    after = settled(services, ctx, image_id)
    assert after.status is S.ACTIVE and sorted(loc.store for loc in after.locations) == ["one", "two"]


def test_delete_is_allowed_from_every_status_but_deleted_as_in_glance() -> None:
    assert [s for s in S if S.DELETED in TRANSITIONS[s]] == [s for s in S if s is not S.DELETED]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_an_image_pending_delete_is_gone_for_every_operation(services: Services, delaying: Services,
                                                             infrastructure: Infrastructure,
                                                             operation: Operation) -> None:
    ctx = RequestContext.for_project(uuid.uuid4().hex)
    image_id = image_in(services, infrastructure, ctx, S.PENDING_DELETE)
    with pytest.raises(errors.ImageNotFound):
        operation.run(delaying if operation.delayed else services, ctx, image_id)
    assert infrastructure.image_repository.get(image_id).status is S.PENDING_DELETE  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [s for s in S if s is not S.DELETED], ids=str)
def test_restore_brings_back_only_an_image_pending_delete(services: Services, infrastructure: Infrastructure,
                                                          status: ImageStatus) -> None:
    owner = RequestContext.for_project(uuid.uuid4().hex)
    admin = dataclasses.replace(owner, is_admin=True)
    image_id = image_in(services, infrastructure, owner, status)
    if status is not S.PENDING_DELETE:
        with pytest.raises(errors.ImageStatusConflict):
            services.images.restore(admin, image_id)
        assert infrastructure.image_repository.get(image_id).status is status  # type: ignore[union-attr]
        return
    assert S.ACTIVE in TRANSITIONS[status]
    assert services.images.restore(admin, image_id).status is S.ACTIVE
    with pytest.raises(errors.Forbidden):
        services.images.restore(owner, image_id)


def test_the_scrubber_ends_a_delayed_delete_through_the_table(delaying: Services,
                                                             infrastructure: Infrastructure) -> None:
    ctx = RequestContext.for_project(uuid.uuid4().hex)
    image = delaying.images.create(ctx, {"name": "scrubbed", "disk_format": "raw", "container_format": "bare"})
    delaying.image_data.upload(ctx, image.id, [b"to scrub"])
    delaying.images.delete(ctx, image.id)
    assert infrastructure.image_repository.get(image.id).status is S.PENDING_DELETE  # type: ignore[union-attr]
    assert S.DELETED in TRANSITIONS[S.PENDING_DELETE]
    assert delaying.maintenance.scrub(older_than=dt.timedelta(0)) >= 1
    assert infrastructure.image_repository.get(image.id) is None


@pytest.mark.parametrize("target", list(S), ids=str)
@pytest.mark.parametrize("current", list(S), ids=str)
def test_transition_allows_exactly_the_pairs_of_the_table(current: ImageStatus, target: ImageStatus) -> None:
    now = dt.datetime(2026, 1, 1)
    image = Image(id="abc", name=None, status=current, visibility=Visibility.PRIVATE, owner="p", created_at=now,
                  updated_at=now)
    if target is current or target in TRANSITIONS[current]:
        assert transition(image, target).status is target
        check_transition(current, target)
    else:
        with pytest.raises(errors.InvalidStatusTransition, match=f"from status '{current}' to '{target}'"):
            transition(image, target)


def test_the_refusal_of_a_transition_is_a_conflict_naming_what_the_status_allows() -> None:
    with pytest.raises(errors.ImageStatusConflict) as refused:
        check_transition(S.KILLED, S.ACTIVE, "abc")
    assert str(refused.value) == "Image abc cannot go from status 'killed' to 'active' (from 'killed': deleted)."
    with pytest.raises(errors.InvalidStatusTransition, match="none: it is final"):
        check_transition(S.DELETED, S.QUEUED)


def status_set_by_replace(source: str) -> list[int]:
    """Lines of ``source`` calling ``replace(..., status=...)``: a status change that bypasses the table."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and any(k.arg == "status" for k in node.keywords)
            and (getattr(node.func, "attr", None) == "replace" or getattr(node.func, "id", None) == "replace")]


def test_no_use_case_changes_a_status_except_through_transition() -> None:
    services_dir = Path(__file__).resolve().parents[2] / "src" / "glimpse" / "services"
    checked = sorted(services_dir.glob("*.py"))
    assert len(checked) > 20
    offenders = [f"{path.name}:{line}" for path in checked for line in status_set_by_replace(path.read_text())]
    assert offenders == [], f"status changes past transition(): {offenders}"
    assert status_set_by_replace("x = dataclasses.replace(\n    image, size=1,\n    status=S.ACTIVE)\n") == [1]
    assert status_set_by_replace("x = dataclasses.replace(transition(image, S.ACTIVE), size=1)\n") == []
