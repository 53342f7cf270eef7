#!/usr/bin/env bash
# Deliver case status to a provincial platform: here the mock province, served on a loopback
# port with 5% injected server errors. Enqueue the bundled sample cases, run the dispatcher until
# the outbox is empty, then check the outbox, the evidence journal and the platform's own count.
#
#   bash examples/sync-to-mock.sh          # state in ./.govlink-example; mock on port 8765
set -euo pipefail
GOVLINK=${GOVLINK:-govlink}
PYTHON=${PYTHON:-$(dirname "$(command -v "$GOVLINK")")/python}
export GOVLINK_HOME=${GOVLINK_HOME:-.govlink-example}
port=${PORT:-8765}
export GOVLINK_PROVINCE_URL="http://127.0.0.1:$port"

$GOVLINK mock-province serve --port "$port" --adapter reference --faults 'error500:rate=0.05' \
  --seed 7 --no-rate-limit >"$GOVLINK_HOME.mock.log" 2>&1 &
mock=$!
trap 'kill $mock 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  "$PYTHON" -c "import urllib.request; urllib.request.urlopen('$GOVLINK_PROVINCE_URL/openapi.json', timeout=1)" 2>/dev/null && break
  sleep 0.1
done

cases=$("$PYTHON" -c 'import govlink.samples, pathlib; print(pathlib.Path(govlink.samples.__file__).parent / "data" / "cases.ndjson")')
echo "--- enqueue the sample cases' status events"
$GOVLINK sync cases "$cases"
echo "--- deliver (per-case order, batches across cases, retries on the injected 500s)"
$GOVLINK sync run --until-empty --adapter reference
echo "--- outbox and evidence journal"
$GOVLINK outbox status
$GOVLINK outbox journal verify
echo "--- what the platform applied"
"$PYTHON" - "$GOVLINK_PROVINCE_URL" <<'PY'
import json, sys, urllib.request
state = json.load(urllib.request.urlopen(sys.argv[1] + "/admin/state", timeout=5))
print({k: v for k, v in state.items() if not isinstance(v, (list, dict))})
PY
