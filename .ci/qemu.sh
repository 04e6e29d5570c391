#!/usr/bin/env bash
# qemu-utils (qemu-img: the second view of image data, and the test images' builder) and bubblewrap (its sandbox).
# Without them the image-safety tests skip, saying so, and the server checks with its own inspector only.
set -uo pipefail
if command -v qemu-img >/dev/null && command -v bwrap >/dev/null; then exit 0; fi
if command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-utils bubblewrap) >/dev/null 2>&1 \
        || echo "qemu-utils/bubblewrap could not be installed: the image-safety tests will be skipped"
fi
