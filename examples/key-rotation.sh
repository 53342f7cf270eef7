#!/usr/bin/env bash
# Signing-key rotation from cron. `govlink keys maintain` is the daily job (examples/crontab):
# it rotates only what is due (every 30 days by default), publishing the next key one JWKS
# cache lifetime before it signs, so halls already hold it when the first token arrives.
# `govlink keys rotate` schedules a new key at once (e.g. after a suspected leak; see
# docs/operations.md). Tokens signed before a rotation keep verifying.
#
#   bash examples/key-rotation.sh        # state in ./.govlink-example (a development key ring)
set -euo pipefail
GOVLINK=${GOVLINK:-govlink}
PYTHON=${PYTHON:-$(dirname "$(command -v "$GOVLINK")")/python}
export GOVLINK_HOME=${GOVLINK_HOME:-.govlink-example}

# Production sets GOVLINK_KEY_PASSPHRASE (or an external key service); --dev generates one.
$GOVLINK keys init --dev >/dev/null 2>&1 || true   # already initialised: keep the ring
count_keys() { $GOVLINK keys jwks | "$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)["keys"]))'; }

echo "--- the daily job (what cron runs)"
$GOVLINK keys maintain
$GOVLINK keys list

token=$($GOVLINK token issue --audience 370500 --subject 11010519491231002X --json \
  | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
before=$(count_keys)

echo "--- rotate now (the next key is published at once and signs one JWKS lifetime later)"
if $GOVLINK keys list | grep -q ' next$'; then
  # keys rotate refuses to schedule a second next key; the scheduled one will take over.
  echo "a rotation is already scheduled"
else
  $GOVLINK keys rotate
fi
$GOVLINK keys list
echo "published keys: $before -> $(count_keys)"

echo "--- a token signed before the rotation still verifies"
$GOVLINK token verify "$token" --audience 370500 >/dev/null && echo "old token: valid"

echo "--- the daily job again: nothing more is due"
$GOVLINK keys maintain --json
