"""Everything that runs processes and sockets: the gunicorn arbiter and its uvicorn workers, the
fast paths that reach into uvicorn's internals, and the limits that guard the edge on every path.

Each module's docstring says what it buys (measured; see ``docs/performance.md``) and which private
internals it depends on; ``tests/server/test_contract.py`` fails, naming the attribute, when an
upgrade moves one. ``server_fast_paths = false`` turns every fast path off (plain uvicorn + Starlette).
The package imports ``glimpse.api``; nothing in ``api``, ``services`` or below imports it.
"""
