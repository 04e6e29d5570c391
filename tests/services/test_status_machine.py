"""Every status change consults the domain's table: each (status, operation) pair walked against it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from glimpse import errors
from glimpse.context import RequestContext
from glimpse.domain.images import TRANSITIONS, Image, ImageStatus, Visibility, check_transition, transition
from glimpse.services import Services, open_services
from glimpse.settings import Settings

S = ImageStatus


@pytest.fixture(scope="module")
def services(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    built = open_services(Settings(data_dir=tmp_path_factory.mktemp("status"), database_url=database_url))
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
    #: the status afterwards (None: the image is gone)
    final: ImageStatus | None


OPERATIONS = [
    Operation("delete", S.DELETED, frozenset(s for s in S if s is not S.DELETED), errors.ImageStatusConflict,
              lambda sv, ctx, image_id: sv.images.delete(ctx, image_id), None),
    Operation("deactivate", S.DEACTIVATED, frozenset({S.ACTIVE, S.DEACTIVATED}), errors.InvalidStateForAction,
              lambda sv, ctx, image_id: sv.images.deactivate(ctx, image_id), S.DEACTIVATED),
    Operation("reactivate", S.ACTIVE, frozenset({S.DEACTIVATED, S.ACTIVE}), errors.InvalidStateForAction,
              lambda sv, ctx, image_id: sv.images.reactivate(ctx, image_id), S.ACTIVE),
    Operation("upload", S.SAVING, frozenset({S.QUEUED}), errors.ImageStatusConflict,
              lambda sv, ctx, image_id: sv.image_data.upload(ctx, image_id, iter([b"data"])), S.ACTIVE),
]
#: Statuses an image can be found in (a deleted one is gone: 404 for every operation; so is one pending delete).
LIVE = [s for s in S if s not in (S.DELETED, S.PENDING_DELETE)]


def image_in(services: Services, ctx: RequestContext, status: ImageStatus) -> str:
    """A new image of ``ctx``'s project put straight into ``status`` by the repository (below the table)."""
    image = services.images.create(ctx, {"name": f"in-{status}", "disk_format": "raw", "container_format": "bare"})
    if status is not S.QUEUED:
        stored = services.image_repository.update(image, dataclasses.replace(image, status=status))
        assert stored is not None and stored.status is status
    return image.id


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_no_operation_starts_from_a_status_the_table_does_not_connect_to_its_target(operation: Operation) -> None:
    for source in operation.sources:
        if source is not operation.target:
            assert operation.target in TRANSITIONS[source], f"{operation.name}: {source} -> {operation.target}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
@pytest.mark.parametrize("status", LIVE, ids=str)
def test_an_operation_on_an_image_in_each_status_follows_the_table(services: Services, status: ImageStatus,
                                                                    operation: Operation) -> None:
    ctx = RequestContext.for_project(uuid.uuid4().hex)
    image_id = image_in(services, ctx, status)
    allowed = status in operation.sources and (status is operation.target or operation.target in TRANSITIONS[status])
    if not allowed:
        with pytest.raises(operation.refusal):
            operation.run(services, ctx, image_id)
        assert services.images.get(ctx, image_id).status is status  # nothing changed
        return
    operation.run(services, ctx, image_id)
    if operation.final is None:
        with pytest.raises(errors.ImageNotFound):
            services.images.get(ctx, image_id)
    else:
        assert services.images.get(ctx, image_id).status is operation.final


def test_delete_is_allowed_from_every_status_but_deleted_as_in_glance() -> None:
    assert [s for s in S if S.DELETED in TRANSITIONS[s]] == [s for s in S if s is not S.DELETED]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_an_image_pending_delete_is_gone_for_every_operation(services: Services, operation: Operation) -> None:
    ctx = RequestContext.for_project(uuid.uuid4().hex)
    image_id = image_in(services, ctx, S.PENDING_DELETE)
    with pytest.raises(errors.ImageNotFound):
        operation.run(services, ctx, image_id)
    assert services.image_repository.get(image_id).status is S.PENDING_DELETE  # type: ignore[union-attr]


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
