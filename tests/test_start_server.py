"""The tests' ``start_server`` hands back its own server, even when another process took its port first."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import tests.conftest as suite


def test_a_free_port_another_server_took_first_is_given_up_for_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = suite.start_server(tmp_path / "first")
    try:
        taken = int(first.url.rsplit(":", 1)[1])
        ports = iter([taken])  # the next free port picked is the one the first server holds
        real = suite.free_port
        monkeypatch.setattr(suite, "free_port", lambda: next(ports, None) or real())
        second = suite.start_server(tmp_path / "second")
        try:
            assert second.url != first.url
            assert suite._holds_listener(second.process.pid, int(second.url.rsplit(":", 1)[1]))
            assert not suite._holds_listener(second.process.pid, taken)
            assert httpx.get(f"{second.url}/healthcheck").status_code == 200
        finally:
            second.stop()
        assert httpx.get(f"{first.url}/healthcheck").status_code == 200  # the first is left alone
    finally:
        first.stop()
