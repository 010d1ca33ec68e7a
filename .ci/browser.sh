#!/usr/bin/env bash
# Installs Debian's Chromium and chromium-driver for the dashboard's real-browser test, when they are
# missing and this machine can install them (root and apt-get). Never downloads a browser of its own.
# Whatever happens, it exits 0: the test reads build/browser-install.log and skips with that reason.
set -uo pipefail
cd "$(dirname "$0")/.."
log=build/browser-install.log
mkdir -p build
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    echo "chromium and chromium-driver present" > "$log"
    exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get > /dev/null; then
    echo "cannot install chromium here: needs root and apt-get (apt-get install chromium chromium-driver)" > "$log"
    exit 0
fi
echo "installing chromium and chromium-driver (apt-get, about 30 s)" >&2
if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
        > "$log.apt" 2>&1; then
    echo "installed chromium and chromium-driver with apt-get" > "$log"
else
    echo "apt-get install chromium chromium-driver failed: $(tail -n 1 "$log.apt")" > "$log"
fi
exit 0
