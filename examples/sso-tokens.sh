#!/usr/bin/env bash
# Single sign-on from the command line: create a development key ring, sign a person in at the
# city hall (370500), exchange the token for a county hall (东营区 370502), verify both, and show
# that a token is refused at a hall it was not issued for.
#
#   bash examples/sso-tokens.sh            # uses ./.govlink-example as its state directory
set -euo pipefail
GOVLINK=${GOVLINK:-govlink}
# The Python that has govlink installed (the one beside the govlink command).
PYTHON=${PYTHON:-$(dirname "$(command -v "$GOVLINK")")/python}
export GOVLINK_HOME=${GOVLINK_HOME:-.govlink-example}

$GOVLINK keys init --dev --json >/dev/null 2>&1 || true   # already initialised: keep the ring
$GOVLINK keys list

city=$($GOVLINK token issue --audience 370500 --subject 11010519491231002X --acr 4 --json \
  | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
echo "--- verify at the city hall"
$GOVLINK token verify "$city" --audience 370500

echo "--- exchange for 东营区 (370502) within the same session (RFC 8693)"
county=$($GOVLINK token exchange "$city" --audience 370502 --json \
  | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
$GOVLINK token verify "$county" --audience 370502

echo "--- the city hall's token is refused at the county hall (exit 1)"
if $GOVLINK token verify "$city" --audience 370502; then
  echo "expected a refusal" >&2
  exit 1
fi
echo "--- the public JWKS any hall can verify with"
$GOVLINK keys jwks
