#!/usr/bin/env bash
# Chromium (Debian's package) for the web console's browser tests (tests/console/, driven by Playwright).
# Without it those tests skip, saying so; .ci/run sets GLIMPSE_TEST_REQUIRE_BROWSER=1 so CI fails instead.
set -uo pipefail
if command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; then exit 0; fi
if command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
        || echo "chromium could not be installed: the console's browser tests will fail (GLIMPSE_TEST_REQUIRE_BROWSER=1)"
fi
