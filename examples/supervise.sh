#!/usr/bin/env bash
# Electronic supervision (电子监察) of the bundled sample cases: legal and promised deadlines in
# working days, and 预警 / 黄牌 / 红牌 at a chosen moment.
#
#   bash examples/supervise.sh [AT]        # AT: ISO time in China time, default 2026-03-20T18:00
set -euo pipefail
GOVLINK=${GOVLINK:-govlink}
# The Python that has govlink installed (the one beside the govlink command).
PYTHON=${PYTHON:-$(dirname "$(command -v "$GOVLINK")")/python}
at=${1:-2026-03-20T18:00}
cases=$("$PYTHON" -c 'import govlink.samples, pathlib; print(pathlib.Path(govlink.samples.__file__).parent / "data" / "cases.ndjson")')
$GOVLINK supervise "$cases" --at "$at"
# Exit code contract: 0 when the file is valid (warnings are findings, not failures).
$GOVLINK supervise "$cases" --at "$at" --json | "$PYTHON" -c '
import json, sys
report = json.load(sys.stdin)
print("levels:", report["levels"], "no deadline:", report["no_deadline"])'
