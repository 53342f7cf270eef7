#!/usr/bin/env bash
# A continuous case-status worker: `govlink sync run` without --until-empty keeps delivering
# whatever halls enqueue, and stops gracefully on SIGTERM (what `systemctl stop` sends):
# in-flight batches finish and settle, nothing is lost. deploy/systemd/govlink-sync-worker.service
# runs it as a service.
#
# Here: start the mock province and the worker, let halls enqueue the sample cases while the
# worker runs, wait until the outbox is empty, stop the worker as systemd would, check the result.
#
#   bash examples/case-status-worker.sh      # state in ./.govlink-example
set -euo pipefail
GOVLINK=${GOVLINK:-govlink}
PYTHON=${PYTHON:-$(dirname "$(command -v "$GOVLINK")")/python}
export GOVLINK_HOME=${GOVLINK_HOME:-.govlink-example}
port=${PORT:-8767}
export GOVLINK_PROVINCE_URL="http://127.0.0.1:$port"
mkdir -p "$GOVLINK_HOME"

$GOVLINK mock-province serve --port "$port" --adapter reference --faults 'error500:rate=0.02' \
  --seed 3 --no-rate-limit >"$GOVLINK_HOME/mock.log" 2>&1 &
mock=$!
worker=""
trap 'kill $mock ${worker:+$worker} 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  "$PYTHON" -c "import urllib.request; urllib.request.urlopen('$GOVLINK_PROVINCE_URL/openapi.json', timeout=1)" 2>/dev/null && break
  sleep 0.1
done

echo "--- start the worker (as the systemd unit does)"
$GOVLINK sync run --adapter reference --log-json 2>"$GOVLINK_HOME/worker.log" &
worker=$!

echo "--- halls enqueue case status while it runs"
cases=$("$PYTHON" -c 'import govlink.samples, pathlib; print(pathlib.Path(govlink.samples.__file__).parent / "data" / "cases.ndjson")')
$GOVLINK sync cases "$cases"

pending() { $GOVLINK outbox status --json | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["pending"])'; }
for _ in $(seq 1 600); do
  [ "$(pending)" = "0" ] && break
  sleep 0.2
done
echo "pending after delivery: $(pending)"

echo "--- systemctl stop: SIGTERM, in-flight work settles, exit 0"
kill -TERM "$worker"
status=0
wait "$worker" || status=$?
worker=""
echo "worker exit status: $status"
$GOVLINK outbox status
$GOVLINK outbox journal verify
"$PYTHON" - "$GOVLINK_PROVINCE_URL" <<'PY'
import json, sys, urllib.request
state = json.load(urllib.request.urlopen(sys.argv[1] + "/admin/state", timeout=5))
print("events applied by the platform:", state["events_applied"])
PY
exit "$status"
