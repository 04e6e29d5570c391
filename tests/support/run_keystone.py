"""Serve Keystone's WSGI application on a loopback port (run with the Keystone virtualenv's python).

Usage: run_keystone.py PORT CONFIG_FILE
"""

import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

port, config = int(sys.argv[1]), sys.argv[2]
os.environ["OS_KEYSTONE_CONFIG_FILES"] = config
sys.argv = sys.argv[:1]  # keystone parses the command line itself

from keystone.server import wsgi  # noqa: E402

application = wsgi.initialize_public_application()


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


make_server("127.0.0.1", port, application, server_class=ThreadingServer,
            handler_class=QuietHandler).serve_forever()
