"""A full run spread over workers keeps each group of tests in one worker (``tests/support/worker_groups.py``).

The contract with pytest-xdist (pinned; the scheduler replaces one of its private methods) is checked on
a run of its own: a probe suite with the suite's own hooks, whose tests write down which worker ran them.
Tests marked ``alone`` are set aside by the workers and run by the run's own process after them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.support import worker_groups

ROOT = Path(__file__).resolve().parents[1]

CONFTEST = '''
import pytest
import tests.conftest as suite

pytest_configure_node = suite.pytest_configure_node
pytest_xdist_make_scheduler = suite.pytest_xdist_make_scheduler
pytest_collection_modifyitems = suite.pytest_collection_modifyitems
pytest_unconfigure = suite.pytest_unconfigure
pytest_sessionfinish = suite.pytest_sessionfinish
pytest_terminal_summary = suite.pytest_terminal_summary


def pytest_configure(config):
    config.addinivalue_line("markers", "alone: run with nothing else running")


@pytest.fixture(scope="session")
def ceph():
    return "the one cluster"


@pytest.fixture(scope="session", params=["sqlite", "postgresql", "mariadb"])
def backend(request):
    return request.param
'''

TEST = '''
import os
import time

import pytest

{mark}


def _ran(request):
    with open(os.environ["PROBE_LOG"], "a") as log:
        log.write(f"{{os.environ.get('PYTEST_XDIST_WORKER', 'alone')}} {{request.node.nodeid}}\\n")
    time.sleep(0.05)


{tests}
'''


def _module(uses: str, count: int, *, alone: bool = False) -> str:
    return TEST.format(mark="pytestmark = pytest.mark.alone" if alone else "", tests="\n\n".join(f"def test_{n}(request, {uses}):\n    _ran(request)" if uses else
                                          f"def test_{n}(request):\n    _ran(request)" for n in range(count)))


def _run_probe(tmp_path: Path, *, workers: int, full: bool = False,
               **env_vars: str) -> subprocess.CompletedProcess[str]:
    """The probe suite in ``tmp_path`` run over ``workers`` processes; its tests log to ``tmp_path / "ran.log"``.

    ``full``: run it as a full run (no paths: the ``testpaths`` of an ini file of its own).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROBE_LOG": str(tmp_path / "ran.log"),
           "GLIMPSE_TEST_GROUP_SECONDS_FILE": str(tmp_path / "no-seconds.json")}
    for name in ("GLIMPSE_TEST_BACKENDS", "GLIMPSE_TEST_WORKERS", "GLIMPSE_TEST_PLAIN_PASS", "PYTEST_ADDOPTS",
                 "GLIMPSE_TEST_RECORD_GROUP_SECONDS"):
        env.pop(name, None)
    env.update(env_vars)
    if full:
        (tmp_path / "probe.ini").write_text("[pytest]\ntestpaths = .\n")
        where = ["-c", str(tmp_path / "probe.ini")]
    else:
        where = ["-c", "/dev/null", str(tmp_path)]
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers),
                           "--rootdir", str(tmp_path), *where],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)


def _modules_in_order(log: Path) -> list[str]:
    """The probe's modules in the order their first test ran."""
    modules: list[str] = []
    for line in log.read_text().splitlines():
        module = line.split(" ", 1)[1].split("::")[0]
        if module not in modules:
            modules.append(module)
    return modules


def test_each_group_runs_in_one_worker_and_the_groups_spread(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name in ("test_ceph_a", "test_ceph_b"):
        (tmp_path / f"{name}.py").write_text(_module("ceph", 4))
    for name in ("test_db_a", "test_db_b"):
        (tmp_path / f"{name}.py").write_text(_module("backend", 3))
    for number in range(6):
        (tmp_path / f"test_plain_{number}.py").write_text(_module("", 3))
    (tmp_path / "test_timed.py").write_text(_module("", 2, alone=True))
    log = tmp_path / "ran.log"
    run = _run_probe(tmp_path, workers=3)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    workers: dict[str, set[str]] = defaultdict(set)
    ran = [line.split(" ", 1) for line in log.read_text().splitlines()]
    # the tests marked alone: left out by the workers, run by the run's own process once they were done
    assert ran[-2:] == [["alone", "test_timed.py::test_0"], ["alone", "test_timed.py::test_1"]], ran
    assert "alone: 2 tests" in run.stdout and "alone: exit 0" in run.stdout, run.stdout[-3000:]
    ran = ran[:-2]
    for worker, nodeid in ran:
        module, _, test = nodeid.partition("::")
        if module.startswith("test_ceph"):
            group = "ceph"
        elif module.startswith("test_db"):
            group = "backend-" + test.split("[")[1].rstrip("]")
        else:
            group = module
        workers[group].add(worker)
    assert len(ran) == 2 * 4 + 2 * 3 * 3 + 6 * 3, ran
    assert set(workers) == {"ceph", "backend-sqlite", "backend-postgresql", "backend-mariadb",
                            *(f"test_plain_{n}.py" for n in range(6))}
    assert all(len(ran_in) == 1 for ran_in in workers.values()), dict(workers)
    assert len(set().union(*workers.values())) == 3, "the groups were not spread over the workers"


def test_groups_go_out_longest_first_by_the_seconds_a_full_run_recorded(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_many.py").write_text(_module("", 6))
    (tmp_path / "test_few.py").write_text(_module("", 2))
    log = tmp_path / "ran.log"
    seconds = tmp_path / "seconds.json"
    seconds.write_text(json.dumps({"test_few.py": 600.0, "test_many.py": 2.0}))
    # one worker: the groups run in the order they are handed out; a full run asked to records their seconds
    run = _run_probe(tmp_path, workers=1, full=True, GLIMPSE_TEST_PLAIN_PASS="0",
                     GLIMPSE_TEST_GROUP_SECONDS_FILE=str(seconds), GLIMPSE_TEST_RECORD_GROUP_SECONDS="1")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert _modules_in_order(log) == ["test_few.py", "test_many.py"], "the longest recorded group goes first"
    assert "longest groups: test_many.py" in run.stdout, run.stdout[-3000:]
    recorded = json.loads(seconds.read_text())
    assert list(recorded) == ["test_many.py", "test_few.py"], recorded
    assert recorded["test_many.py"] >= 0.25 and recorded["test_few.py"] >= 0.08, recorded  # 50 ms a test
    # the next run goes by what was recorded; being a run of chosen paths, it does not write
    log.unlink()
    written = seconds.read_text()
    run = _run_probe(tmp_path, workers=1, GLIMPSE_TEST_GROUP_SECONDS_FILE=str(seconds),
                     GLIMPSE_TEST_RECORD_GROUP_SECONDS="1")
    assert run.returncode == 0 and "only a full run" in run.stdout, run.stdout[-3000:]
    assert _modules_in_order(log) == ["test_many.py", "test_few.py"]
    assert seconds.read_text() == written


def test_a_group_without_recorded_seconds_is_weighed_by_its_tests() -> None:
    groups = {"ceph": 40, "new.py": 30, "old.py": 10}
    # recorded: 2 s per test of old.py, 5 s per test of ceph; the median, 3.5 s, weighs new.py at 105 s
    assert worker_groups.longest_first(groups, {"ceph": 200.0, "old.py": 20.0}) == ["ceph", "new.py", "old.py"]
    # 1 s per test of ceph: new.py weighs 1.5 s per test, 45 s, more than ceph's 40 s
    assert worker_groups.longest_first(groups, {"ceph": 40.0, "old.py": 20.0}) == ["new.py", "ceph", "old.py"]
    assert worker_groups.longest_first(groups, {}) == ["ceph", "new.py", "old.py"]


def test_a_failure_among_the_tests_run_alone_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_plain.py").write_text(_module("", 2))
    (tmp_path / "test_timed.py").write_text("import pytest\n\npytestmark = pytest.mark.alone\n\n\n"
                                            "def test_too_slow():\n    assert False, 'measured too slow'\n")
    run = _run_probe(tmp_path, workers=2)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "measured too slow" in run.stdout and "alone: exit 1" in run.stdout, run.stdout[-3000:]
    assert "\n2 passed in" in run.stdout, run.stdout[-3000:]  # the workers ran the rest


def test_a_run_of_chosen_paths_stays_in_one_process() -> None:
    env = {key: value for key, value in os.environ.items() if key != "GLIMPSE_TEST_WORKERS"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_import_direction.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "workers" not in run.stdout, run.stdout[-3000:]
