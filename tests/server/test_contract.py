"""The private internals of uvicorn, httptools and gunicorn that ``glimpse.server`` relies on.

An upgrade that moves one of them fails here, naming the attribute and the module of ours that uses
it, before anything subtler breaks. Fix the fast path, or serve with ``server_fast_paths = false``
(plain uvicorn and Starlette) until it is fixed. The versions these hold for are pinned in
``pyproject.toml``; widen a pin only with this file green.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

import httptools
import pytest
import uvicorn
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


def instance_attributes(cls: type) -> set[str]:
    """Every ``self.<name>`` a method of ``cls`` or of a base assigns (read from their source)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass.__module__ == "builtins":
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
            for target in targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                    names.add(target.attr)
    return names


def has(cls: type, name: str) -> bool:
    return hasattr(cls, name) or name in instance_attributes(cls)


#: (class, attribute, the module of ours that uses it)
ATTRIBUTES: list[tuple[type, str, str]] = [
    *[(HttpToolsProtocol, name, "glimpse.server.protocol") for name in (
        "cycle", "transport", "parser", "pipeline", "flow", "loop", "timeout_keep_alive",
        "timeout_keep_alive_task", "timeout_keep_alive_handler", "_unset_keepalive_if_required",
        "on_headers_complete", "data_received", "connection_lost", "_start_asgi_task")],
    *[(RequestResponseCycle, name, "glimpse.server.protocol, glimpse.server.zerocopy") for name in (
        "scope", "transport", "flow", "body", "more_body", "disconnected", "message_event",
        "waiting_for_100_continue", "response_started", "response_complete", "chunked_encoding",
        "expected_content_length", "send", "receive")],
    *[(FlowControl, name, "glimpse.server.protocol, glimpse.server.zerocopy") for name in (
        "pause_reading", "write_paused", "drain")],
    *[(uvicorn.Server, name, "glimpse.server.worker_server") for name in (
        "startup", "shutdown", "on_tick", "servers", "server_state", "lifespan", "config", "should_exit",
        "started")],
    *[(uvicorn.Config, name, "glimpse.server.workers, glimpse.server.worker_server") for name in (
        "get_loop_factory", "ssl")],
    *[(Worker, name, "glimpse.server.workers") for name in (
        "run", "init_signals", "notify", "SIGNALS", "sockets", "wsgi", "app", "ppid", "pid", "timeout", "log")],
    (Arbiter, "WORKERS", "glimpse.server.workers"),
    (Arbiter, "WORKER_BOOT_ERROR", "glimpse.server.workers"),
]


@pytest.mark.parametrize(("cls", "name", "user"), ATTRIBUTES,
                         ids=[f"{cls.__qualname__}.{name}" for cls, name, _ in ATTRIBUTES])
def test_every_private_attribute_a_fast_path_uses_still_exists(cls: type, name: str, user: str) -> None:
    assert has(cls, name), (f"{cls.__module__}.{cls.__qualname__}.{name} is gone (used by {user}): "
                            "fix the fast path or set server_fast_paths = false")


#: (callable, the parameters we pass by name, the module of ours that passes them)
SIGNATURES: list[tuple[Callable[..., Any], tuple[str, ...], str]] = [
    (HttpToolsProtocol.__init__, ("config", "server_state", "app_state", "_loop"), "glimpse.server.worker_server"),
    (uvicorn.Server.startup, ("sockets",), "glimpse.server.worker_server"),
    (uvicorn.Server.shutdown, ("sockets",), "glimpse.server.worker_server"),
    (uvicorn.Server.on_tick, ("counter",), "glimpse.server.worker_server"),
    (uvicorn.Server.serve, ("sockets",), "glimpse.server.workers"),
    (uvicorn.Config.__init__, ("app", "http", "loop", "lifespan", "log_config", "access_log", "timeout_keep_alive",
                               "timeout_notify", "callback_notify", "timeout_graceful_shutdown", "server_header",
                               "ssl_certfile", "ssl_keyfile", "ssl_ca_certs", "ssl_cert_reqs"),
     "glimpse.server.workers"),
]


@pytest.mark.parametrize(("function", "parameters", "user"), SIGNATURES,
                         ids=[function.__qualname__ for function, _, _ in SIGNATURES])
def test_every_signature_a_fast_path_calls_still_takes_the_same_arguments(
        function: Callable[..., Any], parameters: tuple[str, ...], user: str) -> None:
    accepted = inspect.signature(function).parameters
    missing = [name for name in parameters if name not in accepted]
    assert not missing, f"{function.__module__}.{function.__qualname__} no longer takes {missing} (used by {user})"


def test_the_request_cycle_is_created_in_on_headers_complete_and_started_as_a_task() -> None:
    # glimpse.server.protocol swaps the class of the cycle on_headers_complete has just made, before its
    # task first runs: that needs the cycle made there and its task started with create_task (not run eagerly).
    made_there = inspect.getsource(HttpToolsProtocol.on_headers_complete)
    assert "self.cycle = RequestResponseCycle(" in made_there, \
        "HttpToolsProtocol.on_headers_complete no longer makes the RequestResponseCycle (glimpse.server.protocol)"
    started = inspect.getsource(HttpToolsProtocol._start_asgi_task)
    assert "create_task(" in started and "eager" not in started, \
        "HttpToolsProtocol._start_asgi_task no longer starts the cycle with create_task (glimpse.server.protocol)"


def test_a_request_cycle_takes_its_class_swap() -> None:
    # The cycle's methods are looked up on its class; a __slots__ layout would refuse the swap.
    assert not hasattr(RequestResponseCycle, "__slots__"), "RequestResponseCycle has __slots__ (glimpse.server.protocol)"


def test_httptools_parsers_take_the_lenience_uvicorn_sets() -> None:
    # glimpse.server.protocol makes a fresh parser after a body it gave back, configured as uvicorn's own.
    parser = httptools.HttpRequestParser(object())
    parser.set_dangerous_leniencies(lenient_data_after_close=True)
    assert "set_dangerous_leniencies(lenient_data_after_close=True)" in inspect.getsource(HttpToolsProtocol), \
        "uvicorn no longer configures its parser with lenient_data_after_close (glimpse.server.protocol)"


def test_the_private_modules_a_fast_path_imports_still_provide_the_names() -> None:
    types = importlib.import_module("uvicorn._types")
    assert hasattr(types, "ASGIReceiveEvent"), "uvicorn._types.ASGIReceiveEvent is gone (glimpse.server.protocol)"


def test_gunicorn_accepts_the_settings_the_arbiter_sets() -> None:
    class Probe(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            pass

        def load(self) -> None:
            return None

    settings = Probe().cfg.settings
    for name in ("bind", "workers", "worker_class", "graceful_timeout", "keepalive", "loglevel", "accesslog",
                 "proc_name", "when_ready", "pre_fork", "child_exit", "reuse_port"):
        assert name in settings, f"gunicorn no longer has the setting {name!r} (glimpse.server.workers)"


def test_uvicorn_servers_count_requests_where_the_idle_collector_reads_them() -> None:
    server = uvicorn.Server(uvicorn.Config(app=lambda scope, receive, send: asyncio.sleep(0)))
    assert isinstance(server.server_state.total_requests, int), \
        "uvicorn ServerState.total_requests is gone (glimpse.server.worker_server)"


def test_the_check_reports_an_attribute_that_does_not_exist() -> None:
    assert has(RequestResponseCycle, "more_body") and not has(RequestResponseCycle, "no_such_attribute_in_uvicorn")
