#!/usr/bin/env bash
# Checks that apps/hc/api/openapi.yaml is honest: runs schemathesis
# (`--checks all`) against a live hc, in every state and both LB signals
# (GET/HEAD operations), then over every operation (POSTs included) on a
# single listener and on both listeners of an admin split.
# Exits non-zero when schemathesis finds anything.
#
# schemathesis comes from $SCHEMATHESIS, else PATH, else a venv this script
# creates in target/schemathesis-venv (pip install schemathesis).
# Settings: apps/hc/api/schemathesis.toml (which 5xx are hc's contract).
# MAX_EXAMPLES (default 40) bounds the examples per operation and run.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SPEC=apps/hc/api/openapi.yaml
CONF=apps/hc/api/schemathesis.toml
MAX_EXAMPLES="${MAX_EXAMPLES:-40}"

ST="${SCHEMATHESIS:-}"
if [ -z "$ST" ]; then
  if command -v schemathesis >/dev/null 2>&1; then
    ST="$(command -v schemathesis)"
  else
    VENV="$ROOT/target/schemathesis-venv"
    if [ ! -x "$VENV/bin/schemathesis" ]; then
      echo "schemathesis not found: installing it into $VENV (pip install schemathesis)" >&2
      python3 -m venv "$VENV"
      "$VENV/bin/pip" install -q schemathesis
    fi
    ST="$VENV/bin/schemathesis"
  fi
fi

HC="${HC_BIN:-}"
if [ -z "$HC" ]; then
  echo "building hc (cargo build -p hc)" >&2
  cargo build -q -p hc
  HC="$ROOT/target/debug/hc"
fi

WORK="$(mktemp -d)"
HC_PID=""
stop_hc() {
  if [ -n "$HC_PID" ]; then
    kill "$HC_PID" 2>/dev/null || true
    wait "$HC_PID" 2>/dev/null || true
    HC_PID=""
  fi
}
trap 'stop_hc; rm -rf "$WORK"' EXIT

# start_hc <lb-signal> [admin]: starts hc on free ports, sets BASE (public) and CTL (transitions).
start_hc() {
  local signal="$1" admin="${2:-}"
  local log="$WORK/hc.log"
  : >"$log"
  if [ -n "$admin" ]; then
    HC_ADDR=127.0.0.1:0 HC_ADMIN_ADDR=127.0.0.1:0 HC_LB_SIGNAL="$signal" "$HC" 2>"$log" &
  else
    HC_ADDR=127.0.0.1:0 HC_LB_SIGNAL="$signal" "$HC" 2>"$log" &
  fi
  HC_PID=$!
  local pub="" adm=""
  for _ in $(seq 1 200); do
    pub="$(sed -n 's/.*msg=listening listener=public addr=\([^ ]*\).*/\1/p' "$log")"
    adm="$(sed -n 's/.*msg=listening listener=admin addr=\([^ ]*\).*/\1/p' "$log")"
    if [ -n "$pub" ] && { [ -z "$admin" ] || [ -n "$adm" ]; }; then break; fi
    sleep 0.05
  done
  [ -n "$pub" ] || { echo "hc did not start:" >&2; cat "$log" >&2; exit 2; }
  BASE="http://$pub"
  CTL="http://${adm:-$pub}"
}

goto() {
  local p
  case "$1" in
    OPEN) return 0 ;;
    DRAINING) set -- /drain ;;
    CLOSING) set -- /drain /close-lb ;;
    CLOSED) set -- /drain /close-lb /close ;;
    FAULT) set -- /fault ;;
  esac
  for p in "$@"; do
    curl -sf -m 5 -X POST "$CTL$p" >/dev/null
  done
}

FAILED=0
run_st() {
  local label="$1"; shift
  echo "=== schemathesis: $label" >&2
  if ! "$ST" --config-file "$CONF" run "$SPEC" --url "$BASE" --checks all \
      --max-examples "$MAX_EXAMPLES" "$@" >"$WORK/st.out" 2>&1; then
    cat "$WORK/st.out" >&2
    echo "=== FINDINGS: $label" >&2
    FAILED=1
  else
    tail -n 3 "$WORK/st.out" | grep -v '^$' >&2 || true
  fi
}

for signal in 503 404; do
  for state in OPEN DRAINING CLOSING CLOSED FAULT; do
    start_hc "$signal"
    goto "$state"
    run_st "GET/HEAD in $state, HC_LB_SIGNAL=$signal" --include-method-regex '^(GET|HEAD)$'
    now="$(curl -sf -m 5 "$BASE/drain/status" | sed -n 's/.*"state":"\([A-Z_]*\)".*/\1/p')"
    if [ "$now" != "$state" ]; then
      echo "=== hc left $state during a GET-only run (now $now)" >&2
      FAILED=1
    fi
    stop_hc
  done
done

start_hc 503
run_st "every operation, one listener"
stop_hc

# Admin split: the admin listener serves the whole document; the public one
# serves the GETs (its POST paths are unknown paths there: 404 to any method,
# which the document's 404 rows say, so only the GET/HEAD operations are run).
start_hc 404 admin
run_st "GET/HEAD, public listener of an admin split" --include-method-regex '^(GET|HEAD)$'
for p in /drain /close-lb /close /reopen /fault; do
  code="$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST "$BASE$p")"
  if [ "$code" != 404 ]; then
    echo "=== POST $p on the public listener of an admin split answered $code, not 404" >&2
    FAILED=1
  fi
done
BASE="$CTL"
run_st "every operation, admin listener of an admin split"
stop_hc

if [ "$FAILED" -ne 0 ]; then
  echo "schemathesis found problems in $SPEC (see above)" >&2
  exit 1
fi
echo "schemathesis: no findings in $SPEC" >&2
