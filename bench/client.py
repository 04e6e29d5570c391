"""Measure the glimpse client against python-glanceclient and curl, in one run.

    python bench/client.py [--size-mib 256] [--runs 5] [--skip-install]

Prints, as a Markdown table (docs/client.md quotes it):

1. install footprint: packages and bytes that ``pip install`` puts into a fresh
   virtual environment, for ``./client`` and for ``python-glanceclient``;
2. start-up: seconds from spawning ``glimpse image list`` / ``glance image-list``
   until the first request byte reaches a listening socket, and the peak
   memory (max RSS) of that process (best of ``--runs``);
3. throughput: upload and download of one random image of ``--size-mib`` MiB
   through a local ``glimpse-api`` with ``glimpse``, ``glance`` and ``curl``
   (curl is the baseline: no hashing, no verification; everyone writes to a file), as
   MiB/s and as a ratio to curl; ``glimpse --no-verify`` shows the transfer alone.

Peak memory is read with GNU time (``/usr/bin/time``). Everything runs on loopback;
the servers and listeners are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import venv
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BOOTSTRAP = {"pip", "setuptools", "wheel"}


def install_footprint(requirement: str, work: Path) -> tuple[int, int, Path]:
    """(packages, bytes in site-packages, the venv's bin/) after installing ``requirement`` in an empty venv."""
    environment = work / f"venv-{abs(hash(requirement))}"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    site = next((environment / "lib").glob("python3*/site-packages"))

    def size() -> int:
        return sum(f.stat().st_size for f in site.rglob("*") if f.is_file())

    before = size()
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement], check=True, timeout=1800)
    listing = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], check=True,
                             capture_output=True, text=True)
    packages = {p["name"].lower() for p in json.loads(listing.stdout)} - BOOTSTRAP
    return len(packages), size() - before, environment / "bin"


class FirstByte:
    """A socket that notes when the first request byte arrives, then hangs up."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.arrived: float | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                if conn.recv(1) and self.arrived is None:
                    self.arrived = time.perf_counter()

    def close(self) -> None:
        self.sock.close()


def _peak_command(command: list[str]) -> list[str]:
    """Run through GNU time: a child forked from this Python process would report our peak memory as its own."""
    return ["/usr/bin/time", "-f", "PEAK_RSS_KB=%M", *command]


def _peak_mib(stderr: bytes) -> float:
    for line in reversed(stderr.decode(errors="replace").splitlines()):
        if line.startswith("PEAK_RSS_KB="):
            return int(line.split("=", 1)[1]) / 1024
    raise RuntimeError(f"no peak memory reported: {stderr[-500:]!r}")


def startup(command: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Best seconds to first request byte, and the peak RSS in MiB of that run."""
    best, memory = float("inf"), 0.0
    for _ in range(runs):
        listener = FirstByte()
        full_env = {**env, "OS_IMAGE_URL": listener.url}
        started = time.perf_counter()
        result = subprocess.run(_peak_command([part.replace("{url}", listener.url) for part in command]),
                                env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
        listener.close()
        if listener.arrived is not None and listener.arrived - started < best:
            best = listener.arrived - started
            memory = _peak_mib(result.stderr)
    return best, memory


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak memory (MiB) of one run of ``command``."""
    started = time.perf_counter()
    result = subprocess.run(_peak_command(command), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            timeout=1800)
    elapsed = time.perf_counter() - started
    if result.returncode:
        raise RuntimeError(f"{command[0]} failed: {result.stderr[-500:]!r}")
    return elapsed, _peak_mib(result.stderr)


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    process = subprocess.Popen([str(BIN / "glimpse-api"), "--port", str(port), "--data-dir", str(data_dir),
                                "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("glimpse-api did not start")


def create_image(url: str, env: dict[str, str]) -> str:
    out = subprocess.run([str(BIN / "glimpse"), "image", "create", "--disk-format", "raw", "--container-format",
                          "bare", "-f", "json"], env={**env, "OS_IMAGE_URL": url}, check=True,
                         capture_output=True, text=True)
    return str(json.loads(out.stdout)["id"])


def throughput(size_mib: int, runs: int, work: Path) -> list[tuple[str, str, float, float]]:
    """(operation, tool, MiB/s, peak MiB) rows; tools take turns in every round (the disk's
    write-back state drifts during a run, so one tool's runs must not all come first)."""
    image = work / "image.raw"
    with image.open("wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    process, url = start_server(work / "server")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_PROJECT_ID"] = "bench"
    glimpse_env = {**env, "OS_IMAGE_URL": url}
    out = str(work / "out.raw")
    sys.path.insert(0, str(ROOT / "client"))
    import glimpseclient

    client = glimpseclient.Client(url, project_id="bench")

    def upload_library(image_id: str) -> float:
        started = time.perf_counter()
        client.images.upload(image_id, image)
        return time.perf_counter() - started

    def download_library(image_id: str, verify: bool) -> float:
        started = time.perf_counter()
        with client.images.download(image_id, verify=verify) as download:
            download.save(out)
        return time.perf_counter() - started

    uploads: dict[str, Callable[[str], tuple[float, float]]] = {
        "curl": lambda i: timed(["curl", "-sS", "-f", "-H", "X-Project-Id: bench", "-H",
                                 "Content-Type: application/octet-stream", "-H", "Expect:", "-T", str(image),
                                 f"{url}/v2/images/{i}/file"], glimpse_env),
        "glimpse": lambda i: timed([str(BIN / "glimpse"), "image", "upload", i, "--file", str(image)], glimpse_env),
        "library": lambda i: (upload_library(i), float("nan")),
        "glance": lambda i: timed([str(BIN / "glance"), "--os-image-url", url, "--os-auth-token", "x",
                                   "image-upload", "--file", str(image), i], glimpse_env),
    }
    downloads: dict[str, Callable[[str], tuple[float, float]]] = {
        "curl": lambda i: timed(["curl", "-sS", "-f", "-H", "X-Project-Id: bench", "-o", out,
                                 f"{url}/v2/images/{i}/file"], glimpse_env),
        "glimpse": lambda i: timed([str(BIN / "glimpse"), "image", "download", i, "--file", out], glimpse_env),
        "glimpse --no-verify": lambda i: timed([str(BIN / "glimpse"), "image", "download", i, "--no-verify",
                                                "--file", out], glimpse_env),
        "library": lambda i: (download_library(i, True), float("nan")),
        "library, no verify": lambda i: (download_library(i, False), float("nan")),
        "glance": lambda i: timed([str(BIN / "glance"), "--os-image-url", url, "--os-auth-token", "x",
                                   "image-download", "--file", out, i], glimpse_env),
    }
    best: dict[tuple[str, str], tuple[float, float]] = {}
    try:
        last = ""
        for _ in range(runs):
            for name, measure in uploads.items():
                last = client.images.create(disk_format="raw", container_format="bare").id
                result = measure(last)
                if result[0] < best.get(("upload", name), (float("inf"), 0.0))[0]:
                    best["upload", name] = result
            for name, measure in downloads.items():
                result = measure(last)
                if result[0] < best.get(("download", name), (float("inf"), 0.0))[0]:
                    best["download", name] = result
    finally:
        client.close()
        process.terminate()
        process.wait()
    return [(op, tool, size_mib / seconds, memory) for (op, tool), (seconds, memory) in best.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-install", action="store_true", help="skip the (slow) install footprint part")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="glimpse-bench-"))
    try:
        # Start-up is measured with the commands of these fresh (non-editable) installs when made.
        bins = {"glimpse": BIN, "glance": BIN}
        if not args.skip_install:
            print("| distribution | packages installed | size on disk |\n|---|---|---|")
            # Build from a copy, so that the build leaves nothing in the working tree.
            source = work / "client-source"
            shutil.copytree(ROOT / "client", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
            for label, command, requirement in (("glimpseclient", "glimpse", str(source)),
                                                ("python-glanceclient", "glance", "python-glanceclient")):
                packages, size, bins[command] = install_footprint(requirement, work)
                print(f"| {label} | {packages} | {size / 2**20:.1f} MiB |")
            print()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        glimpse_time, glimpse_mem = startup([str(bins["glimpse"] / "glimpse"), "--retries", "0", "image", "list"],
                                            {**env, "OS_PROJECT_ID": "bench"}, args.runs)
        glance_time, glance_mem = startup([str(bins["glance"] / "glance"), "--os-image-url", "{url}",
                                           "--os-auth-token", "x", "image-list"], env, args.runs)
        print("| CLI | time to first request | peak memory |\n|---|---|---|")
        print(f"| glimpse | {glimpse_time * 1000:.0f} ms | {glimpse_mem:.1f} MiB |")
        print(f"| glance | {glance_time * 1000:.0f} ms | {glance_mem:.1f} MiB |")
        print(f"| ratio glimpse/glance | {glimpse_time / glance_time:.2f} | {glimpse_mem / glance_mem:.2f} |\n")
        rows = throughput(args.size_mib, args.runs, work)
        print(f"| {args.size_mib} MiB image | tool | MiB/s | ratio to curl | peak memory |\n|---|---|---|---|---|")
        baseline = {op: rate for op, tool, rate, _ in rows if tool == "curl"}
        for op, tool, rate, memory in rows:
            shown = "" if memory != memory else f"{memory:.0f} MiB"  # NaN: measured in this process
            print(f"| {op} | {tool} | {rate:.0f} | {rate / baseline[op]:.2f} | {shown} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
