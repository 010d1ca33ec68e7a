#!/usr/bin/env bash
# Installs the Debian packages some tests drive, when they are missing and this machine can install them
# (root and apt-get): Chromium and chromium-driver (the dashboard's browser test) and Prometheus (the
# Prometheus importer's test against a real server). Never downloads a browser or binary of its own.
# Whatever happens it exits 0: each test reads build/apt-install.log and skips with that reason.
set -uo pipefail
cd "$(dirname "$0")/.."
log=build/apt-install.log
mkdir -p build
declare -A binary=([chromium]=/usr/bin/chromium [chromium-driver]=/usr/bin/chromedriver [prometheus]=/usr/bin/prometheus)
missing=()
for pkg in chromium chromium-driver prometheus; do
    [[ -x ${binary[$pkg]} ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "all present: chromium chromium-driver prometheus" > "$log"
    exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get > /dev/null; then
    echo "cannot install ${missing[*]} here: needs root and apt-get (apt-get install ${missing[*]})" > "$log"
    exit 0
fi
echo "installing ${missing[*]} with apt-get (about a minute)" >&2
# policy-rc.d: a package's service is not started (the tests start their own servers on loopback).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1; fi
if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
        > "$log.apt" 2>&1; then
    echo "installed ${missing[*]} with apt-get" > "$log"
else
    echo "apt-get install ${missing[*]} failed: $(tail -n 1 "$log.apt")" > "$log"
fi
[[ $made_policy -eq 1 ]] && rm -f "$policy"
exit 0
