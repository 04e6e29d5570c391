"""A failed test's report holds what the servers it used logged while it ran (``tests/support/server_logs.py``).

Checked on a run of its own: a probe suite with the suite's hooks, one test failing after a request to a
server it started and one passing after another: only the failure shows a log, and only its own lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFTEST = '''
import pytest
import tests.conftest as suite

pytest_runtest_setup = suite.pytest_runtest_setup
pytest_runtest_makereport = suite.pytest_runtest_makereport


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = suite.start_server(tmp_path_factory.mktemp("node"), log_level="info")
    yield server
    server.stop()
'''

PROBE = '''
import time

import httpx


def _ask(server, path):
    httpx.get(server.url + path, headers={"X-Project-Id": "p", "X-Roles": "member"})
    time.sleep(0.3)  # the access line is written after the response


def test_a_passing_one(server):
    _ask(server, "/v2/images/asked-by-the-passing-test")


def test_a_failing_one(server):
    _ask(server, "/v2/images/asked-by-the-failing-test")
    assert False, "the probe fails here"
'''


def test_the_report_of_a_failed_test_shows_the_server_log_lines_written_while_it_ran(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_ADDOPTS", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n0",
                          "-c", "/dev/null", "--rootdir", str(tmp_path), str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    out = run.stdout
    assert run.returncode == 1 and "1 failed, 1 passed" in out, out[-3000:] + run.stderr[-2000:]
    assert "glimpse-api log http://127.0.0.1:" in out, out[-3000:]
    assert '"GET /v2/images/asked-by-the-failing-test HTTP/1.1" 404' in out, out[-3000:]
    assert "asked-by-the-passing-test" not in out, out[-3000:]  # written before the failing test started
