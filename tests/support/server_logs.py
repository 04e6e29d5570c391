"""The logs of the servers a failed test talked to, in its failure report.

Every ``glimpse-api`` the tests start (:func:`tests.conftest.start_server`)
writes its log to a file; :func:`watch` records it. When a test starts,
:func:`mark` notes how far each log has got; when the test fails,
:func:`written_since_mark` gives what each wrote meanwhile (the tail of it),
which ``tests/conftest.py`` adds to the report. A worker that died (a C
library's abort: the servers log every thread's stack then), a task's error
or a slow statement is then in CI's output instead of lost with the machine.
"""

from __future__ import annotations

from pathlib import Path

#: how much of one log a report shows at most (its end)
TAIL_LINES = 150
TAIL_BYTES = 24_000

_logs: dict[Path, str] = {}  # log file -> what it is (the server's URL)
_marks: dict[Path, int] = {}  # log file -> its size when the running test started


def watch(log: Path, title: str) -> None:
    """Show ``log`` (a server's, named ``title``) in the reports of the tests that fail from now on."""
    _logs[log] = title
    _marks.setdefault(log, 0)


def mark() -> None:
    """A test starts: what the logs hold so far is not its doing."""
    for log in list(_logs):
        try:
            _marks[log] = log.stat().st_size
        except FileNotFoundError:  # its temporary directory is gone: so is the server
            del _logs[log]
            _marks.pop(log, None)


def written_since_mark() -> list[tuple[str, str]]:
    """``(title, text)`` for each log that grew since :func:`mark`: the end of what it wrote."""
    sections = []
    for log, title in _logs.items():
        try:
            with open(log, "rb") as file:
                start = _marks.get(log, 0)
                end = file.seek(0, 2)
                file.seek(max(start, end - TAIL_BYTES))  # only the end is shown: only the end is read
                grown = file.read(TAIL_BYTES)
        except FileNotFoundError:
            continue
        if not grown:
            continue
        lines = grown.decode("utf-8", "replace").splitlines()
        cut = len(lines) > TAIL_LINES or end - start > TAIL_BYTES
        sections.append((f"glimpse-api log {title}" + (" (its end)" if cut else ""), "\n".join(lines[-TAIL_LINES:])))
    return sections
