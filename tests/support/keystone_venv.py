"""The virtualenv OpenStack Keystone runs from in the tests (it pins its own libraries); standard library only.

``python3 tests/support/keystone_venv.py`` makes it ahead of a run (``.ci/run`` does, while the rest of
the machine is set up); the Keystone tests make it on first use otherwise
(:func:`tests.support.identity.keystone_python`). It lives in
``$GLIMPSE_TEST_KEYSTONE_VENV`` or ``<repo>/.venv-keystone``, and counts as made only once
``.keystone-installed`` is in it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("GLIMPSE_TEST_KEYSTONE_VENV", ROOT / ".venv-keystone"))
PYTHON = VENV / "bin" / "python"
MARKER = VENV / ".keystone-installed"


def install() -> Path:
    """Keystone's python, installing Keystone from PyPI first unless done; raises ``SubprocessError``/``OSError``."""
    if MARKER.exists():
        return PYTHON
    if not PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=300)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "keystone"], check=True,
                   capture_output=True, timeout=1500)
    MARKER.write_text("ok\n")
    return PYTHON


if __name__ == "__main__":
    try:
        print(f"Keystone ready: {install()}")
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        sys.exit(f"Keystone could not be installed into {VENV}: {exc} {detail.decode(errors='replace')[-500:]}")
