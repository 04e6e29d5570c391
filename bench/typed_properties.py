"""What enforcing typed properties costs: image create and update rates with and without a catalog.

Starts two ``glimpse-api`` nodes on fresh SQLite databases in the same run: a
baseline with an empty catalog, and one with the test catalog (plus Glance's
own catalog files when the Glance peer's virtualenv has them) loaded by
``glimpse-manage metadefs load``. Both get the same requests, setting typed
properties; the report is the ratio of their rates, never an absolute time.

    python bench/typed_properties.py [--requests 200] [--rounds 5]

Rounds alternate which node goes first, and the median of the per-round
ratios is reported, so load from elsewhere on the machine mostly cancels out.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = [ROOT / "tests" / "catalog", Path("/tmp/glance-peer/venv/etc/glance/metadefs")]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}


def start(data_dir: Path, *, catalog: bool) -> tuple[subprocess.Popen[bytes], str]:
    manage = [sys.executable, "-m", "glimpse.cli.manage", "--data-dir", str(data_dir)]
    subprocess.run([*manage, "db", "upgrade"], check=True, capture_output=True, env=_env())
    if catalog:
        for directory in CATALOGS:
            if directory.is_dir():
                subprocess.run([*manage, "metadefs", "load", "--merge", str(directory)], check=True,
                               capture_output=True, env=_env())
    port = _port()
    process = subprocess.Popen([sys.executable, "-m", "glimpse.cli.serve", "--port", str(port), "--data-dir",
                                str(data_dir), "--log-level", "warning"], env=_env())
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthcheck").status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("glimpse-api did not start")


def rate(url: str, requests: int) -> float:
    """Image writes per second: a create with typed properties, then a patch of one of them."""
    patch = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
    with httpx.Client(base_url=url, headers={"X-Project-Id": "bench"}, timeout=60) as client:
        start = time.perf_counter()
        for i in range(requests // 2):
            created = client.post("/v2/images", json={
                "name": f"b{i}", "disk_format": "raw", "container_format": "bare", "hw_cpu_sockets": "2",
                "hw_cpu_policy": "dedicated", "hw_vif_multiqueue_enabled": "true", "hw_watchdog_action": "reset"})
            assert created.status_code == 201, created.text
            changed = client.patch(f"/v2/images/{created.json()['id']}", headers=patch,
                                   content=f'[{{"op": "replace", "path": "/hw_cpu_sockets", "value": "{i % 8 + 1}"}}]')
            assert changed.status_code == 200, changed.text
        return (requests // 2 * 2) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="writes per node per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        nodes = {name: start(Path(tmp) / name, catalog=name == "catalog") for name in ("baseline", "catalog")}
        try:
            for _, url in nodes.values():
                rate(url, 20)  # warm up
            for round_ in range(args.rounds):
                order = ["baseline", "catalog"] if round_ % 2 == 0 else ["catalog", "baseline"]
                rates = {name: rate(nodes[name][1], args.requests) for name in order}
                ratios.append(rates["catalog"] / rates["baseline"])
                print(f"round {round_ + 1}: baseline {rates['baseline']:.0f}/s, with catalog "
                      f"{rates['catalog']:.0f}/s, ratio {ratios[-1]:.2f}")
        finally:
            for process, _ in nodes.values():
                process.terminate()
                process.wait()
    print(f"median ratio (with catalog / empty catalog): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
