"""Shared fixtures: database backends, real server processes and HTTP helpers.

Every API test runs once per database backend. SQLite always runs; PostgreSQL
and MariaDB run when reachable at the URLs below (override with
``GLIMPSE_TEST_POSTGRESQL_URL`` / ``GLIMPSE_TEST_MARIADB_URL``; set one to an
empty string to turn that backend off) and are skipped, with the reason, when not.

Servers run with the server's fast paths on (``glimpse.server``), unless
``GLIMPSE_TEST_SERVER_FAST_PATHS=0``: then every test server is plain uvicorn
and Starlette. Modules that take their ``server`` from
:func:`on_both_server_paths` run each test on both, in every run.

The API suite runs both ways in every full run: when ``python -m pytest`` is
given no paths (the README's command, which CI runs), it ends with a second
pass over ``tests/api`` and ``tests/edge`` with every server plain, on SQLite
(the server's paths do not depend on the database), leaving out the modules of
:data:`PLAIN_PASS_LEAVES_OUT` (each with its reason), and fails if that pass
fails (:func:`pytest_sessionfinish`). ``GLIMPSE_TEST_PLAIN_PASS=1`` adds the pass
to any run, ``=0`` leaves it out. ``GLIMPSE_TEST_BACKENDS=sqlite`` (a comma list)
runs only those backends.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support import server_logs, worker_groups

ADMIN_URLS = {
    "postgresql": os.environ.get(
        "GLIMPSE_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
    "mariadb": os.environ.get("GLIMPSE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}
#: ``GLIMPSE_TEST_BACKENDS``: the backends this run uses (all three unless set).
BACKENDS = [b for b in ("sqlite", "postgresql", "mariadb")
            if b in {x.strip() for x in os.environ.get("GLIMPSE_TEST_BACKENDS", "sqlite,postgresql,mariadb").split(",")}]
#: ``GLIMPSE_TEST_SERVER_FAST_PATHS=0``: every test server runs with ``server_fast_paths = false``.
FAST_PATHS = os.environ.get("GLIMPSE_TEST_SERVER_FAST_PATHS", "1").strip().lower() not in ("0", "false", "no", "off")
#: Backends that must be reachable (CI sets this): failing beats silently skipping there.
REQUIRED = {b.strip() for b in os.environ.get("GLIMPSE_TEST_REQUIRE_BACKENDS", "").split(",") if b.strip()}


def _server_database(backend: str, tmp: Path) -> Iterator[str]:
    """Create an empty database on ``backend``, yield its URL, drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'glimpse.db'}"
        return
    admin_url = ADMIN_URLS[backend]
    if not admin_url:
        pytest.skip(f"{backend} tests disabled: GLIMPSE_TEST_{backend.upper()}_URL is empty")
    name = f"glimpse_test_{secrets.token_hex(4)}"
    connect_args = {"connect_timeout": 5}
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args=connect_args)
        with admin.connect() as conn:
            if backend == "mariadb":
                conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
            else:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # any connection problem means: not available here
        reason = (f"{backend} not reachable at {admin_url} ({exc.__class__.__name__}: {exc}); "
                  f"set GLIMPSE_TEST_{backend.upper()}_URL to a server URL to run these tests")
        if backend in REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name})
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server_database(backend, tmp_path_factory.mktemp(f"db-{backend}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A ``glimpse-api`` process listening on a loopback port."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path
    #: whether the server runs its fast paths (``server_fast_paths``)
    fast_paths: bool = True

    def worker_pids(self) -> list[int]:
        """The worker processes the arbiter (``process``) runs now."""
        try:
            text = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        except FileNotFoundError:
            return []
        return [int(pid) for pid in text.split()]

    def crash(self) -> None:
        """Kill the whole node at once (workers and arbiter), as a power cut would."""
        for pid in [*self.worker_pids(), self.process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _listening_inode(port: int) -> str | None:
    """The inode of the socket listening on ``127.0.0.1:port`` (``/proc/net/tcp``), if one is."""
    wanted = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":  # local address, state LISTEN
            return fields[9]
    return None


def _holds_listener(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds the socket listening on ``127.0.0.1:port``.

    A free port picked by one test process can be picked by another before either server binds it; the
    server that loses retries its bind for a while, and meanwhile the winner answers the health check.
    """
    inode = _listening_inode(port)
    if inode is None:
        return False
    try:
        return any(os.readlink(fd) == f"socket:[{inode}]" for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # it exited meanwhile
        return False


def start_server(data_dir: Path, *, database_url: str | None = None, env: dict[str, str] | None = None,
                 args: list[str] | None = None, workers: int = 1, log_level: str = "warning",
                 scheme: str = "http", verify: Any = True, port: int | None = None) -> Server:
    """Start ``glimpse-api`` with ``workers`` processes (on ``port``, or a free one) and wait until its
    health check answers; a free port another process took first is given up for another one."""
    for _attempt in range(3 if port is None else 1):
        server = _start_server(data_dir, database_url=database_url, env=env, args=args, workers=workers,
                               log_level=log_level, scheme=scheme, verify=verify, port=port or free_port())
        if server is not None:
            return server
    raise RuntimeError(f"glimpse-api: another process held its port each time (see {data_dir / 'server.log'})")


def _start_server(data_dir: Path, *, database_url: str | None, env: dict[str, str] | None, args: list[str] | None,
                  workers: int, log_level: str, scheme: str, verify: Any, port: int) -> Server | None:
    """The server on ``port`` once healthy; None if another process answers there instead (it is stopped)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "glimpse.cli.serve", "--host", "127.0.0.1", "--port", str(port),
               "--data-dir", str(data_dir), "--log-level", log_level, "--workers", str(workers)]
    if database_url:
        command += ["--database-url", database_url]
    command += args or []
    log = data_dir / "server.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    environment["GLIMPSE_SERVER_FAST_PATHS"] = "true" if FAST_PATHS else "false"
    environment.update(env or {})
    fast_paths = environment["GLIMPSE_SERVER_FAST_PATHS"] == "true"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment)
    server = Server(f"{scheme}://127.0.0.1:{port}", data_dir, process, log, fast_paths)
    server_logs.watch(log, server.url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"glimpse-api exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.url}/healthcheck", timeout=2, verify=verify).status_code == 200:
                if _holds_listener(process.pid, port):
                    return server
                if b"Address already in use" in log.read_bytes():  # somebody else's server answered
                    server.stop()
                    return None
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"glimpse-api did not become healthy:\n{log.read_text()}")


@pytest.fixture(scope="session")
def server_for_backend(database_url: str, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Two workers, so the whole API suite runs against a multi-process server.
    srv = start_server(tmp_path_factory.mktemp(f"server-{backend}"), database_url=database_url, workers=2)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def server(server_for_backend: Server) -> Server:
    """The shared server of the backend under test."""
    return server_for_backend


@pytest.fixture(scope="session")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A two-worker server with ``server_fast_paths = false``: plain uvicorn and Starlette (SQLite)."""
    srv = start_server(tmp_path_factory.mktemp("server-plain"), workers=2, env={"GLIMPSE_SERVER_FAST_PATHS": "false"})
    yield srv
    srv.stop()


#: The two ways a server can serve, as test ids.
SERVER_PATHS = ["fast-paths", "plain"]


def on_both_server_paths() -> Any:
    """A ``server`` fixture for a module (``server = on_both_server_paths()``) that runs each of its tests
    against the shared server and again against :func:`plain_server`, so the plain path stays the
    reference the fast paths must match, limits and errors included.

    The plain run is on SQLite only: the server's paths do not depend on the database, and the
    second run should cost the suite little.
    """

    @pytest.fixture(params=SERVER_PATHS)
    def server(request: pytest.FixtureRequest, backend: str) -> Server:
        if request.param == "fast-paths":
            if not FAST_PATHS:
                pytest.skip("fast paths are off in this run (GLIMPSE_TEST_SERVER_FAST_PATHS=0): the plain run covers it")
            shared: Server = request.getfixturevalue("server_for_backend")
            return shared
        if backend != "sqlite":
            pytest.skip("the plain server path runs on SQLite only (the database does not change it)")
        plain: Server = request.getfixturevalue("plain_server")
        return plain

    return server


class Api:
    """An HTTP client for one caller; JSON error bodies by default."""

    def __init__(self, base_url: str, project: str | None = None, roles: str | None = None,
                 user: str | None = None) -> None:
        self.base_url = base_url
        self.project = project
        headers = {"Accept": "application/json"}
        if project is not None:
            headers["X-Project-Id"] = project
        if roles is not None:
            headers["X-Roles"] = roles
        if user is not None:
            headers["X-User-Id"] = user
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=120)

    def as_project(self, project: str, roles: str | None = None) -> Api:
        return Api(self.base_url, project, roles)

    def create(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("disk_format", "raw")
        fields.setdefault("container_format", "bare")
        response = self.http.post("/v2/images", json=fields)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def upload(self, image_id: str, data: bytes, **headers: str) -> httpx.Response:
        return self.http.put(f"/v2/images/{image_id}/file", content=data,
                             headers={"Content-Type": "application/octet-stream", **headers})

    def show(self, image_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v2/images/{image_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def patch(self, image_id: str, operations: list[dict[str, Any]],
              media_type: str = "application/openstack-images-v2.1-json-patch") -> httpx.Response:
        import json

        return self.http.patch(f"/v2/images/{image_id}", content=json.dumps(operations),
                               headers={"Content-Type": media_type})

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def project() -> str:
    """A fresh project id, so a test sees only the images it made."""
    return uuid.uuid4().hex


@pytest.fixture
def api(server: Server, project: str) -> Iterator[Api]:
    client = Api(server.url, project)
    yield client
    client.close()


@pytest.fixture
def admin(server: Server) -> Iterator[Api]:
    client = Api(server.url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def keystone_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Keystone and a Glimpse node authenticating with it (skipped where Keystone cannot run)."""
    from tests.support.identity import start_cloud, stop_cloud

    cloud = start_cloud(tmp_path_factory.mktemp("keystone"), tmp_path_factory.mktemp("glimpse-keystone"))
    yield cloud
    stop_cloud(cloud)


CATALOG_DIR = Path(__file__).parent / "catalog"


def manage(*args: str, server: Server | None = None, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``glimpse-manage`` (against ``server``'s data directory and ``database_url``)."""
    command = [sys.executable, "-m", "glimpse.cli.manage"]
    if server is not None:
        command += ["--data-dir", str(server.data_dir)]
    if database_url is not None:
        command += ["--database-url", database_url]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, env=environment)


@pytest.fixture(scope="session")
def catalog(server: Server, database_url: str) -> Path:
    """The test catalog (``tests/catalog/*.json``, typed image properties) loaded into the shared server's
    database by ``glimpse-manage metadefs load``, as an operator would."""
    result = manage("metadefs", "load", str(CATALOG_DIR), server=server, database_url=database_url)
    assert result.returncode == 0, result.stderr
    return CATALOG_DIR


@pytest.fixture(scope="session")
def files() -> Iterator[str]:
    """A loopback HTTP server of deterministic files (``/<n>``, ``/missing``, ``/slow``) to import from."""
    from tests.support.web import serve_files

    with serve_files() as url:
        yield url


#: The suites the plain pass runs again: the API and the edge, but for the modules below.
PLAIN_PASS_PATHS = ("tests/api", "tests/edge")
#: Modules the plain pass leaves out, to keep CI within its budget: each tests rules of the service layer,
#: a store or an outside service through the API, where the server's path (how bytes and heads move)
#: is not the subject and is covered by the modules that stay. They run with the fast paths in every run.
PLAIN_PASS_LEAVES_OUT = {
    "tests/api/test_keystone.py": "a real Keystone: identity rules, not how the server moves bytes",
    "tests/api/test_glance_download.py": "an import from the Glance peer: the import method's rules",
    "tests/api/test_metadefs.py": "the metadata definitions catalog: service rules",
    "tests/api/test_typed_properties.py": "typed property definitions: service rules",
    "tests/api/test_image_safety.py": "the format inspector over every catalogued image: services, not the server",
    "tests/api/test_web_download_safety.py": "web-download's URL rules",
    "tests/api/test_authorization_matrix.py": "policy: who may do what",
    "tests/api/test_policy_files.py": "policy files",
    "tests/api/test_quotas.py": "quota rules",
    "tests/api/test_import.py": "import tasks run in the background, after the request",
    "tests/api/test_import_plugins.py": "import plugins (decompression, conversion), in the background",
    "tests/api/test_import_leases.py": "import task leases between nodes",
    "tests/api/test_import_across_nodes.py": "import tasks across nodes",
    "tests/api/test_copy_image.py": "copy-image tasks, in the background",
    "tests/api/test_tasks_api.py": "the tasks resource's rules",
    "tests/api/test_concurrent_writers.py": "database concurrency",
    "tests/api/test_delayed_delete.py": "the scrubber",
    "tests/api/test_upload_recovery.py": "upload leases after a crash",
    "tests/api/test_multistore.py": "store selection rules",
    "tests/api/test_store_availability.py": "store outages",
    "tests/api/test_locations.py": "location rules (a store reads the data to describe it)",
    "tests/api/test_ingest.py": "the ingest pipeline's quotas and limits",
    "tests/api/test_import_refusals.py": "import requests' rules",
    "tests/api/test_reads_across_nodes.py": "caches across nodes: the database, not the server",
    "tests/api/test_large_transfers.py::test_one_gib_sized_upload_read_from_the_socket_keeps_server_memory_flat":
        "reading the body from the socket is a fast path; plain, it is the upload of the test before it",
}


def _is_full_run(config: pytest.Config) -> bool:
    """``python -m pytest`` with no paths (so the ``testpaths``) and no selection by keyword or mark."""
    return config.args_source is pytest.Config.ArgsSource.TESTPATHS \
        and not config.getoption("keyword") and not config.getoption("markexpr")


def _plain_pass_wanted(session: pytest.Session) -> bool:
    if hasattr(session.config, "workerinput"):
        return False  # a worker of a spread-out run: the run's own process decides
    wanted = os.environ.get("GLIMPSE_TEST_PLAIN_PASS", "auto").strip().lower()
    if wanted in ("0", "false", "no", "off") or not FAST_PATHS:
        return False  # never from the plain pass itself, nor from a run that is plain already
    if wanted in ("1", "true", "yes", "on"):
        return True
    config = session.config  # auto: the full run
    # (``-x`` is stored as ``maxfail``; a collect-only run runs nothing, so there is nothing to repeat plain)
    return _is_full_run(config) and not config.getoption("maxfail") and not config.getoption("collectonly")


#: ``GLIMPSE_TEST_WORKERS``: how many processes a full run spreads its tests over (pytest-xdist; ``0`` runs
#: them in pytest's own process). A run of chosen paths or tests runs in pytest's own process unless it
#: is given ``-n N``.
WORKERS = os.environ.get("GLIMPSE_TEST_WORKERS", "").strip()


def _full_run_workers() -> int:
    # Most of a test's time is spent waiting for the servers, databases and clients it starts, so one
    # worker more than there are cores keeps the cores busy.
    return int(WORKERS) if WORKERS else (os.cpu_count() or 1) + 1


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (in ``addopts``): :func:`_full_run_workers` for a full run, none for anything else."""
    return _full_run_workers() if _is_full_run(config) else 0


def _groups_file(config: pytest.Config) -> Path:
    """Where the workers of this run write their tests' groups (``tests/support/worker_groups.py``)."""
    return Path(tempfile.gettempdir()) / f"glimpse-test-groups-{os.getpid()}.json"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """In the run's own process, for each worker: where to write the groups."""
    node.workerinput[worker_groups.GROUPS_FILE] = str(_groups_file(node.config))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Whole groups to workers (for ``--dist load``, what ``-n`` means unless told otherwise)."""
    if config.getoption("dist") != "load":
        return None
    scheduler = worker_groups.GroupScheduling(config, log, _groups_file(config))
    config.stash[_SCHEDULER] = scheduler
    return scheduler


_SCHEDULER = pytest.StashKey[worker_groups.GroupScheduling]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """After a run spread over workers: its longest groups (what sets the run's length), and, asked to
    (``GLIMPSE_TEST_RECORD_GROUP_SECONDS=1``), every group's seconds written for the next runs' order."""
    scheduler = config.stash.get(_SCHEDULER, None)
    if scheduler is None or not scheduler.seconds:
        return
    longest = sorted(scheduler.seconds.items(), key=lambda kv: -kv[1])[:6]
    terminalreporter.write_line("longest groups: " + ", ".join(f"{group} {seconds:.0f} s" for group, seconds in longest))
    if os.environ.get("GLIMPSE_TEST_RECORD_GROUP_SECONDS") == "1":
        failed = terminalreporter.stats.get("failed") or terminalreporter.stats.get("error")
        if _is_full_run(config) and not failed:
            written = worker_groups.record_seconds(scheduler.seconds)
            terminalreporter.write_line(f"group seconds written to {written}")
        else:
            terminalreporter.write_line("group seconds not written: only a full run without failures writes them")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    worker_groups.set_aside(config, items, len(BACKENDS))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    server_logs.mark()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report shows what the servers logged while it ran (``tests/support/server_logs.py``)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.sections.extend(server_logs.written_since_mark())


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        _groups_file(config).unlink(missing_ok=True)


def _pass(session: pytest.Session, title: str, args: list[str], env: dict[str, str]) -> None:
    """Run pytest again, in a process of its own, as part of this run: its failure fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", title)
    started = time.monotonic()
    config = session.config  # (the same root and configuration: a probe suite's runs too)
    env = {name: value for name, value in env.items() if not name.startswith("PYTEST_XDIST_")}  # a run of its own
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                             str(config.rootpath), "-c", str(config.inipath or os.devnull), *args],
                            cwd=config.rootpath, env=env, check=False)
    if reporter is not None:
        reporter.write_sep("=", f"{title.split(':')[0]}: exit {result.returncode} in {time.monotonic() - started:.0f} s")
    if result.returncode != 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After a run spread over workers, the tests they set aside (marked ``alone``), with nothing else
    running; after a full run, the API suite again with every server plain. Either's failure fails the run."""
    if hasattr(session.config, "workerinput") or exitstatus not in (0, 1):
        return
    alone = worker_groups.set_aside_tests(_groups_file(session.config))
    if alone:
        _pass(session, f"alone: {len(alone)} tests that time the service under a load of their own",
              ["-n0", *alone], {**os.environ, "GLIMPSE_TEST_PLAIN_PASS": "0"})
    if not _plain_pass_wanted(session):
        return
    env = {**os.environ, "GLIMPSE_TEST_SERVER_FAST_PATHS": "0", "GLIMPSE_TEST_BACKENDS": "sqlite",
           "GLIMPSE_TEST_PLAIN_PASS": "0"}
    env.pop("GLIMPSE_TEST_REQUIRE_BACKENDS", None)
    paths = os.environ.get("GLIMPSE_TEST_PLAIN_PASS_PATHS", "").split() or PLAIN_PASS_PATHS  # (for its own test)
    workers = session.config.getoption("numprocesses", None) or 0  # as many as this run had
    _pass(session, "plain pass: " + " ".join(paths) + " with server_fast_paths = false",
          ["--durations=15", f"-n{workers}",
           *(f"--deselect={path}" if "::" in path else f"--ignore={path}" for path in PLAIN_PASS_LEAVES_OUT),
           *paths], env)
