#!/usr/bin/env python3
"""The first download right after an upload, Glimpse and Glance side by side and interleaved.

The common case of an image service: Nova fetches the image that was just
uploaded. ``compare.py`` measures it too, but one server after the other; on a
shared machine whose load changes by the minute, that compares two different
moments. Here both servers run at once (Glimpse: ``glimpse-api --workers 2``,
SQLite, filesystem store; Glance 33 from the peer kit, uWSGI with 2 workers,
filesystem store) and each round uploads a new image to each, in alternating
order, and downloads it once right away (verified like ``images_bench.py``'s
downloads). Every round's two rates are reported, and the median of the
per-round ratios, so a disturbance hits both sides of a ratio alike.

    python bench/first_download.py --size 256MiB --rounds 9 --glance-peer /work/shared/peer
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare import start_glance, start_glimpse  # noqa: E402
from images_bench import (  # noqa: E402
    Endpoint, _delete, download_streams, hashing_limit, make_source, parse_size, upload_once,
)



def one_round(endpoint: Endpoint, source_path: Path, source: memoryview, limits: dict[str, Any],
              verify: str) -> dict[str, Any]:
    uploaded = upload_once(endpoint, source_path, len(source), limits)
    first = download_streams(endpoint, f"/v2/images/{uploaded['image_id']}/file", source, 1, verify)
    asyncio.run(_delete(endpoint, uploaded["image_id"]))
    return {"upload_mb_per_s": uploaded["mb_per_s"], "status": uploaded["status"],
            "first_mb_per_s": first["mb_per_s"] if first["verified"] else 0.0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="256MiB")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--verify", choices=["sample", "full"], default="sample")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "glimpse-first-download")
    p.add_argument("--glance-peer", type=Path, default=HERE.parents[1] / "shared" / "peer")
    args = p.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source_path = make_source(parse_size(args.size), str(args.workdir))
    source = memoryview(source_path.read_bytes())  # in memory: the verifier compares every block it gets
    limits = hashing_limit(source)  # the digests the servers must report
    glimpse, glimpse_url = start_glimpse(args.workdir, args.workers)
    rounds: list[dict[str, Any]] = []
    try:
        _pid, glance_url, env = start_glance(args.workdir, args.glance_peer, args.workers)
        try:
            headers = {"X-Project-Id": uuid.uuid4().hex, "X-Roles": "admin,member,reader",
                       "Accept": "application/json"}
            servers = {"glimpse": Endpoint.parse(glimpse_url, headers), "glance": Endpoint.parse(glance_url, headers)}
            for n in range(args.rounds):
                order = ["glimpse", "glance"] if n % 2 == 0 else ["glance", "glimpse"]
                rounds.append({name: one_round(servers[name], source_path, source, limits, args.verify)
                               for name in order})
                print(json.dumps(rounds[-1]), file=sys.stderr)
        finally:
            subprocess.run([str(args.glance_peer / "glance-down.sh")], env=env, check=False)
    finally:
        glimpse.send_signal(signal.SIGTERM)
        glimpse.wait(timeout=60)
    ratios = [r["glimpse"]["first_mb_per_s"] / r["glance"]["first_mb_per_s"] for r in rounds
              if r["glance"]["first_mb_per_s"]]
    summary = {
        "size_bytes": len(source), "rounds": rounds,
        "glimpse_first_median_mb_per_s": statistics.median(r["glimpse"]["first_mb_per_s"] for r in rounds),
        "glance_first_median_mb_per_s": statistics.median(r["glance"]["first_mb_per_s"] for r in rounds),
        "first_ratio_median": round(statistics.median(ratios), 2) if ratios else None,
        "glimpse_upload_median_mb_per_s": statistics.median(r["glimpse"]["upload_mb_per_s"] for r in rounds),
        "glance_upload_median_mb_per_s": statistics.median(r["glance"]["upload_mb_per_s"] for r in rounds),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
