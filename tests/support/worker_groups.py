"""A full run spread over processes (pytest-xdist), with the tests that share something kept together.

A test's group says what it shares with other tests (:func:`group_of`); every test of a group runs in
one worker, one after another. Each worker writes the group of every test it collected to a file the
run's own process names (``workerinput``), and :class:`GroupScheduling` hands whole groups to workers,
the largest first. Tests marked :data:`ALONE` are left out of the workers' share and run afterwards,
with nothing else running.

xdist's own ``--dist loadgroup`` carries a group inside the test's id (``id@group``), which pytest 9.2's
structured ids no longer let it write: the groups are silently dropped and the tests spread one by one
(pytest-dev/pytest-xdist#1386). This side channel does not touch test ids. It subclasses xdist's
``LoadScopeScheduling`` and replaces its ``_split_scope`` (the scope of a test id), a private method:
``pytest-xdist`` is pinned to 3.8 for it, and ``tests/test_worker_groups.py`` checks the contract on a
run of its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

#: The ``workerinput`` key naming the file each worker writes its groups to.
GROUPS_FILE = "glimpse_test_groups_file"


def group_of(item: pytest.Item, backends: int) -> str:
    """The group of a test: what one process must own is set up once, in one worker.

    The session's Ceph cluster (tests stop its OSD and radosgw; ``tests/stores`` reaches it through
    ``request.getfixturevalue``), RabbitMQ (a test stops the broker), the Keystone cloud and the
    browser. When a run has several database backends, the tests of one backend share its server (a
    worker switching backends would start it again); any other module stays whole, so what its
    fixtures start is started once.
    """
    path = item.nodeid.split("::")[0]
    fixtures = set(getattr(item, "fixturenames", ()))
    if "ceph" in fixtures or path.startswith("tests/stores/"):
        return "ceph"
    if path.startswith("tests/amqp/"):
        return "amqp"
    if "keystone_cloud" in fixtures:
        return "keystone"
    if path.startswith("tests/console/"):
        return "browser"
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "backend" in params and backends > 1:
        return f"backend-{params['backend']}"
    return path


#: The mark of a test that measures how fast the service answers under a load the test makes itself:
#: another worker's tests on the same cores would be part of what it measures. A spread-out run leaves
#: such tests to its own process, which runs them after the workers are done (:func:`set_aside`).
ALONE = "alone"


def set_aside(config: pytest.Config, items: list[pytest.Item], backends: int) -> None:
    """In a worker: take the tests marked :data:`ALONE` out of the run, and write the groups of the rest
    and the ids of those (``{"groups": {test id: group}, "alone": [test id]}``) where the run's own
    process will read them."""
    target = getattr(config, "workerinput", {}).get(GROUPS_FILE)
    if not target:
        return
    alone = [item for item in items if item.get_closest_marker(ALONE)]
    if alone:
        items[:] = [item for item in items if not item.get_closest_marker(ALONE)]
        config.hook.pytest_deselected(items=alone)
    partial = Path(f"{target}.{os.getpid()}")
    partial.write_text(json.dumps({"groups": {item.nodeid: group_of(item, backends) for item in items},
                                   "alone": [item.nodeid for item in alone]}))
    partial.replace(target)  # every worker collects the same tests: any one complete file will do


def set_aside_tests(groups_file: Path) -> list[str]:
    """In the run's own process, after the workers: the ids of the tests they set aside."""
    try:
        return list(json.loads(groups_file.read_text())["alone"])
    except FileNotFoundError:
        return []  # no worker collected anything


class GroupScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with :func:`group_of`'s groups as the scopes."""

    def __init__(self, config: pytest.Config, log: Any, groups_file: Path) -> None:
        super().__init__(config, log)
        self._groups_file = groups_file
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:  # first called once every worker has collected (and written the file)
            self._groups = json.loads(self._groups_file.read_text())["groups"]
        return self._groups.get(nodeid) or nodeid.split("::")[0]
