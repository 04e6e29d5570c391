"""What glimpse.server.limits and the body pacing take from uvicorn's private protocol: if an upgrade
moves any of it, this names what moved (instead of limits silently no longer applying)."""

from __future__ import annotations

import inspect

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from glimpse.server.protocol import HttpProtocol
from glimpse.server.limits import LimitedHttpToolsProtocol


def test_the_parser_callbacks_and_answers_the_limits_override_exist_in_uvicorn() -> None:
    for name in ("data_received", "on_message_begin", "on_url", "on_headers_complete",
                 "on_message_complete", "send_400_response", "eof_received", "connection_made", "connection_lost"):
        assert callable(getattr(HttpToolsProtocol, name, None)), f"HttpToolsProtocol.{name} is gone"


def test_the_request_cycle_still_has_the_flags_the_limits_read_and_set() -> None:
    source = inspect.getsource(RequestResponseCycle.__init__)
    for attribute in ("self.more_body", "self.keep_alive", "self.response_complete"):
        assert attribute in source, f"RequestResponseCycle no longer sets {attribute}"


def test_uvicorn_catches_parser_errors_where_the_limits_raise_them() -> None:
    source = inspect.getsource(HttpToolsProtocol.data_received)
    assert "HttpParserError" in source and "send_400_response" in source


def test_the_worker_protocol_carries_the_limits() -> None:
    assert issubclass(HttpProtocol, LimitedHttpToolsProtocol)
