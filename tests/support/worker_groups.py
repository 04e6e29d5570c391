"""A full run spread over processes (pytest-xdist), with the tests that share something kept together.

A test's group says what it shares with other tests (:func:`group_of`); every test of a group runs in
one worker, one after another. Each worker writes the group of every test it collected to a file the
run's own process names (``workerinput``), and :class:`GroupScheduling` hands whole groups to workers,
the longest first: by the seconds each group took in a full run, kept in :data:`SECONDS_FILE` (a group
it does not name is weighed by its number of tests). The run's last group to end sets its length, so a
long group handed out last would leave the other workers idle. Tests marked :data:`ALONE` are left out
of the workers' share and run afterwards, with nothing else running.

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
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

#: The ``workerinput`` key naming the file each worker writes its groups to.
GROUPS_FILE = "glimpse_test_groups_file"

#: Seconds each group took in a full run (``{group: seconds}``), by which the groups are handed out.
#: ``GLIMPSE_TEST_RECORD_GROUP_SECONDS=1`` on a full run writes it anew (``GLIMPSE_TEST_GROUP_SECONDS_FILE``
#: names another file, for the scheduler's own test).
SECONDS_FILE = Path(__file__).with_name("group_seconds.json")


def seconds_file() -> Path:
    return Path(os.environ.get("GLIMPSE_TEST_GROUP_SECONDS_FILE") or SECONDS_FILE)


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


def known_seconds() -> dict[str, float]:
    """The seconds per group of the last recorded full run, or none."""
    try:
        return {str(group): float(seconds) for group, seconds in json.loads(seconds_file().read_text()).items()}
    except (FileNotFoundError, ValueError, AttributeError):
        return {}


def longest_first(groups: dict[str, int], seconds: dict[str, float]) -> list[str]:
    """``groups`` (group: number of tests) in the order to hand them out: the longest first.

    A group ``seconds`` does not name is weighed at the median seconds per test of those it names.
    """
    per_test = [seconds[group] / count for group, count in groups.items() if group in seconds and count]
    guess = statistics.median(per_test) if per_test else 1.0
    return sorted(groups, key=lambda group: -seconds.get(group, guess * groups[group]))


class GroupScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with :func:`group_of`'s groups as the scopes, handed out longest first
    (:func:`longest_first`), and the seconds each group took counted (:attr:`seconds`)."""

    def __init__(self, config: pytest.Config, log: Any, groups_file: Path,
) -> None:
        super().__init__(config, log)
        self._groups_file = groups_file
        self._groups: dict[str, str] | None = None
        self._known = known_seconds()
        self._ordered = False
        #: Seconds the tests of each group took in this run (xdist's per-test durations, set-up included).
        self.seconds: dict[str, float] = defaultdict(float)

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:  # first called once every worker has collected (and written the file)
            self._groups = json.loads(self._groups_file.read_text())["groups"]
        return self._groups.get(nodeid) or nodeid.split("::")[0]

    def _assign_work_unit(self, node: Any) -> None:
        # First called by ``schedule`` once it has queued every group (by number of tests): reorder them.
        if not self._ordered:
            self._ordered = True
            order = longest_first({group: len(tests) for group, tests in self.workqueue.items()}, self._known)
            for group in order:
                self.workqueue.move_to_end(group)
        super()._assign_work_unit(node)

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        self.seconds[self._split_scope(self.registered_collections[node][item_index])] += duration
        super().mark_test_complete(node, item_index, duration)


def record_seconds(seconds: dict[str, float]) -> Path:
    """Write ``seconds`` (a full run's) for the next runs' scheduling, the longest first, rounded."""
    ordered = {group: round(value, 1) for group, value in sorted(seconds.items(), key=lambda kv: -kv[1])}
    path = seconds_file()
    path.write_text(json.dumps(ordered, indent=1) + "\n")
    return path
