#!/usr/bin/env bash
# Nightly catalog sync with reconciliation: push the item catalog (事项目录) to the provincial
# platform, sending only what changed since last night, and once a day compare with the
# platform's own digest so anything the platform lost or altered is sent again.
#
# The nightly job is the two commands in `nightly` below; examples/crontab runs them at 02:30.
# Here the platform is the mock province on a loopback port, and the script plays three nights:
#   1. first night: every item goes out;
#   2. next night: nothing changed, nothing is sent;
#   3. the platform lost its catalog (we reset the mock): reconciliation re-sends all of it.
#
#   bash examples/nightly-catalog-sync.sh [CATALOG]   # default: the bundled sample catalog
set -euo pipefail
GOVLINK=${GOVLINK:-govlink}
PYTHON=${PYTHON:-$(dirname "$(command -v "$GOVLINK")")/python}
export GOVLINK_HOME=${GOVLINK_HOME:-.govlink-example}
port=${PORT:-8766}
export GOVLINK_PROVINCE_URL="http://127.0.0.1:$port"
catalog=${1:-$("$PYTHON" -c 'import govlink.samples, pathlib; print(pathlib.Path(govlink.samples.__file__).parent / "data" / "catalog.json")')}

nightly() {
  # Enqueue new and changed items; reconcile with the platform at most once a day (a job that
  # runs more often than daily skips the digest comparison until a day has passed).
  $GOVLINK sync catalog "$catalog" --adapter reference --reconcile-every "${RECONCILE_EVERY:-86400}"
  # Deliver, then exit: a cron job must not linger. Exit 1 means items are parked.
  $GOVLINK sync run --until-empty --adapter reference
}

mkdir -p "$GOVLINK_HOME"
$GOVLINK mock-province serve --port "$port" --adapter reference --no-rate-limit \
  >"$GOVLINK_HOME/mock.log" 2>&1 &
mock=$!
trap 'kill $mock 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  "$PYTHON" -c "import urllib.request; urllib.request.urlopen('$GOVLINK_PROVINCE_URL/openapi.json', timeout=1)" 2>/dev/null && break
  sleep 0.1
done
platform_items() {
  "$PYTHON" -c "import json, urllib.request; print(json.load(urllib.request.urlopen('$GOVLINK_PROVINCE_URL/admin/state', timeout=5))['items'])"
}

echo "=== night 1: first push"
nightly
echo "platform holds $(platform_items) items"
echo "=== night 2: nothing changed"
nightly
echo "=== night 3: the platform lost its catalog; reconciliation finds out and re-sends"
"$PYTHON" -c "import urllib.request; urllib.request.urlopen(urllib.request.Request('$GOVLINK_PROVINCE_URL/admin/reset', method='POST'), timeout=5)"
RECONCILE_EVERY=0 nightly
echo "platform holds $(platform_items) items"
