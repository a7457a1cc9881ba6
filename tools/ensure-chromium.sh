#!/usr/bin/env bash
# The browser tests (tests/browser/) drive Debian's Chromium: Playwright cannot download
# its own browser builds here, so it is given this one (executable_path). Quick when
# Chromium is present; installs it when we are root with apt-get; otherwise says which
# package to install and fails.
set -euo pipefail
CHROMIUM=${SIMPUL_CHROMIUM:-/usr/bin/chromium}

if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "$CHROMIUM is missing: installing Debian's package chromium for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists yet, or stale ones whose files are gone.
    if ! apt-get install -y --no-install-recommends chromium; then
        apt-get update
        apt-get install -y --no-install-recommends chromium
    fi
    [ -x "$CHROMIUM" ] && exit 0
fi
echo "The browser tests need Chromium at $CHROMIUM: install Debian's package 'chromium'" \
    "(as root: apt-get update && apt-get install chromium), or set SIMPUL_CHROMIUM." >&2
exit 1
