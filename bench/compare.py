#!/usr/bin/env python3
"""Glimpse against Glance and the machine's limits, side by side, in one run.

Starts, on this machine:

* nginx (from the system packages) serving the benchmark image file with
  ``sendfile``: the plain file server the downloads are compared with;
* Glimpse: ``glimpse-api --workers 2``, SQLite, filesystem store, in a fresh
  directory;
* Glance 33 from the peer kit (``--glance-peer DIR``, see
  ``shared/peer/README.md``), in a private data directory on its own port,
  uWSGI with 2 workers, SQLite, filesystem store, identity from headers;

then runs ``images_bench.py`` against each (every run also measures the
hashing limit and the nginx downloads right before the server's numbers), and
prints one JSON document with every result plus a Markdown table of the
comparison. ``--skip-glance`` leaves Glance out.

    python bench/compare.py --size 1GiB --glance-peer /work/shared/peer
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from images_bench import make_source, parse_size  # noqa: E402

NGINX_CONF = """
{user}
worker_processes 2;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer") from None
            time.sleep(0.2)


def start_nginx(workdir: Path, source: Path) -> tuple[subprocess.Popen[bytes], str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is needed for the download baseline: apt-get install nginx-light")
    directory = workdir / "nginx"
    root = directory / "www"
    root.mkdir(parents=True, exist_ok=True)
    target = root / "image.bin"
    if not target.exists():
        os.link(source, target) if source.stat().st_dev == root.stat().st_dev else shutil.copy(source, target)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    (directory / "nginx.conf").write_text(NGINX_CONF.format(user=user, dir=directory, port=port, root=root))
    process = subprocess.Popen([nginx, "-c", str(directory / "nginx.conf"), "-p", str(directory)])
    url = f"http://127.0.0.1:{port}/image.bin"
    wait_http(url)
    return process, url


def start_glimpse(workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    data = workdir / "glimpse"
    shutil.rmtree(data, ignore_errors=True)
    port = free_port()
    log = open(workdir / "glimpse.log", "wb")  # noqa: SIM115 - lives as long as the server
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "glimpse.cli.serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir",
         str(data), "--workers", str(workers), "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT,
        env=env)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthcheck")
    return process, url


def start_glance(workdir: Path, peer: Path, workers: int) -> tuple[int, str, dict[str, str]]:
    home = workdir / "glance"
    shutil.rmtree(home / "data", ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    shared_venv = Path(os.environ.get("GLANCE_PEER_HOME", "/tmp/glance-peer")) / "venv"
    if not (home / "venv").exists():
        (home / "venv").symlink_to(shared_venv)
    port = free_port()
    env = {**os.environ, "GLANCE_PEER_HOME": str(home), "GLANCE_PORT": str(port), "GLANCE_CONTEXT": "headers",
           "GLANCE_WORKERS": str(workers)}
    subprocess.run([str(peer / "glance-up.sh")], env=env, check=True)
    pid = int((home / "data" / "glance-api.pid").read_text())
    return pid, f"http://127.0.0.1:{port}", env


def bench(label: str, endpoint: str, pid: int, args: argparse.Namespace, baseline: str) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "images_bench.py"), "--endpoint", endpoint, "--label", label,
               "--size", args.size, "--workdir", str(args.workdir), "--baseline-url", baseline,
               "--watch-pid", str(pid), "--seconds", str(args.seconds), "--streams", str(args.streams),
               "--repeat", str(args.repeat)]
    print(f"== {label}: {' '.join(command)}", file=sys.stderr)
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    sys.stderr.write(done.stderr[-2000:])
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def table(runs: dict[str, dict[str, Any]], streams: int) -> str:
    glimpse, glance = runs.get("glimpse"), runs.get("glance")

    def cell(run: dict[str, Any] | None, *path: str) -> Any:
        value: Any = run
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    def ratio(a: Any, b: Any) -> str:
        return f"{a / b:.2f}×" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "–"

    rows = ["| measure | Glimpse | Glance | machine limit | Glimpse / limit | Glimpse / Glance |",
            "|---|---|---|---|---|---|"]
    limit_hash = cell(glimpse, "limits", "hash_md5_sha512", "parallel_mb_per_s")
    g_up, c_up = cell(glimpse, "data", "upload", "mb_per_s"), cell(glance, "data", "upload", "mb_per_s")
    rows.append(f"| upload 1 stream (MB/s) | {g_up} | {c_up} | {limit_hash} (md5 ∥ sha512) | "
                f"{ratio(g_up, limit_hash)} | {ratio(g_up, c_up)} |")
    g_first, c_first = cell(glimpse, "data", "download_first_mb_per_s"), cell(glance, "data", "download_first_mb_per_s")
    rows.append(f"| first download right after its upload, 1 stream, median (MB/s) | {g_first} | {c_first} | "
                f"| | {ratio(g_first, c_first)} |")
    for n in (1, streams):
        g = cell(glimpse, "data", f"download_{n}", "mb_per_s")
        c = cell(glance, "data", f"download_{n}", "mb_per_s")
        limit = cell(glimpse, "limits", f"baseline_download_{n}", "mb_per_s")
        rows.append(f"| download {n} stream{'s' if n > 1 else ''} (MB/s) | {g} | {c} | {limit} (nginx sendfile) | "
                    f"{ratio(g, limit)} | {ratio(g, c)} |")
    for key, name in [("create", "create c1"), ("show_c1", "show c1"), ("show_c16", "show c16"),
                      ("list_paged", "list, pages of 20, c1"), ("patch", "JSON-Patch c1")]:
        g, c = cell(glimpse, "metadata", key), cell(glance, "metadata", key)
        gv, cv = cell(g, "ops_per_s"), cell(c, "ops_per_s")
        rows.append(f"| {name} (ops/s; p50 / p99 ms) | {gv}; {cell(g, 'p50_ms')} / {cell(g, 'p99_ms')} | "
                    f"{cv}; {cell(c, 'p50_ms')} / {cell(c, 'p99_ms')} | | | {ratio(gv, cv)} |")
    writers = next((k for k in (glimpse or {}).get("metadata", {}) if k.startswith("writers_")), None)
    if writers:
        g, c = cell(glimpse, "metadata", writers), cell(glance, "metadata", writers)
        rows.append(f"| {writers.replace('_c', ' × ')} create+patch: errors / requests | "
                    f"{cell(g, 'errors')} / {cell(g, 'ops')} | {cell(c, 'errors')} / {cell(c, 'ops')} | | | |")
    # "end": after the metadata scenarios, with each process's caches of images and bodies filled.
    for phase, label in (("start", "start"), ("upload", "upload"), ("download", "download"),
                         ("end", "after the metadata scenarios")):
        g = cell(glimpse, "memory_mib", phase)
        c = cell(glance, "memory_mib", phase)
        rows.append(f"| memory {label}: PSS / RSS sum (MiB) | {cell(g, 'pss_max')} / {cell(g, 'rss_max')} | "
                    f"{cell(c, 'pss_max')} / {cell(c, 'rss_max')} | | | "
                    f"{ratio(cell(g, 'pss_max'), cell(c, 'pss_max'))} (PSS) |")
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="1GiB")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "glimpse-bench")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--streams", type=int, default=4)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--glance-peer", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "peer")
    p.add_argument("--skip-glance", action="store_true")
    p.add_argument("--output", type=Path, help="also write the JSON document here")
    args = p.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = make_source(parse_size(args.size), str(args.workdir))

    nginx, baseline = start_nginx(args.workdir, source)
    runs: dict[str, dict[str, Any]] = {}
    try:
        glimpse, url = start_glimpse(args.workdir, args.workers)
        try:
            runs["glimpse"] = bench("glimpse", url, glimpse.pid, args, baseline)
        finally:
            glimpse.send_signal(signal.SIGTERM)
            glimpse.wait(timeout=60)
        if not args.skip_glance:
            pid, url, env = start_glance(args.workdir, args.glance_peer, args.workers)
            try:
                runs["glance"] = bench("glance", url, pid, args, baseline)
            finally:
                subprocess.run([str(args.glance_peer / "glance-down.sh")], env=env, check=False)
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=30)
    document = {"runs": runs, "table": table(runs, args.streams)}
    if args.output:
        args.output.write_text(json.dumps(document, indent=2))
    print(json.dumps(document, indent=2))
    print(document["table"], file=sys.stderr)


if __name__ == "__main__":
    main()
