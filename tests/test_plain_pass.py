"""The plain pass of a full run (``tests/conftest.py``): what it runs, and that it leaves out only what it says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PLAIN_PASS_LEAVES_OUT, PLAIN_PASS_PATHS

ROOT = Path(__file__).resolve().parents[1]


def test_every_module_the_plain_pass_leaves_out_exists_and_says_why() -> None:
    missing = [path for path in PLAIN_PASS_LEAVES_OUT if not (ROOT / path.split("::")[0]).is_file()
               or ("::" in path and f"def {path.split('::')[1]}(" not in (ROOT / path.split("::")[0]).read_text())]
    assert missing == [], f"the plain pass leaves out modules that do not exist: {missing}"
    assert all(reason.strip() for reason in PLAIN_PASS_LEAVES_OUT.values())


def test_the_plain_pass_keeps_most_of_the_api_suite_and_all_of_the_edge() -> None:
    modules = [p.relative_to(ROOT).as_posix() for d in PLAIN_PASS_PATHS for p in (ROOT / d).glob("test_*.py")]
    kept = [m for m in modules if m not in PLAIN_PASS_LEAVES_OUT]
    assert not any(m.startswith("tests/edge/") for m in PLAIN_PASS_LEAVES_OUT)
    assert len(kept) > len(PLAIN_PASS_LEAVES_OUT), (len(kept), len(PLAIN_PASS_LEAVES_OUT))
    for essential in ("tests/api/test_image_data.py", "tests/api/test_serving.py", "tests/api/test_errors.py",
                      "tests/api/test_hostile_input.py", "tests/api/test_large_transfers.py"):
        assert essential in kept, essential


@pytest.mark.parametrize(("body", "code"), [("assert True", 0), ("assert False, 'fails when plain'", 1)])
def test_a_run_ends_with_the_plain_pass_and_fails_when_it_fails(tmp_path: Path, body: str, code: int) -> None:
    (tmp_path / "test_probe.py").write_text(
        "import os\n\n\ndef test_probe() -> None:\n"
        "    assert os.environ['GLIMPSE_TEST_SERVER_FAST_PATHS'] == '0'\n"
        f"    {body}\n")
    env = {**os.environ, "GLIMPSE_TEST_PLAIN_PASS": "1", "GLIMPSE_TEST_PLAIN_PASS_PATHS": str(tmp_path / "test_probe.py")}
    env.pop("GLIMPSE_TEST_SERVER_FAST_PATHS", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_plain_pass.py::test_every_module_the_plain_pass_leaves_out_exists_and_says_why"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert "plain pass:" in run.stdout, run.stdout
    assert run.returncode == code, run.stdout


def test_the_automatic_choice_reads_only_options_pytest_has() -> None:
    """A full run decides on its own whether to add the plain pass (no ``GLIMPSE_TEST_PLAIN_PASS``).

    That decision reads pytest's options by name; a wrong name fails the whole run at its very end
    (it once did in CI: ``no option named 'exitfirst'``). A collect-only full run reads every one of them.
    """
    env = {key: value for key, value in os.environ.items() if key != "GLIMPSE_TEST_PLAIN_PASS"}
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stdout + run.stderr, run.stdout[-3000:] + run.stderr[-3000:]
    assert "plain pass:" not in run.stdout, "a collect-only run ran the plain pass"
    assert " tests collected" in run.stdout, run.stdout[-500:]
