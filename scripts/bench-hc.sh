#!/usr/bin/env bash
# Benchmarks hc's /health_check.html against a minimal hyper server that
# answers a constant (apps/hc/examples/const_server.rs), with wrk on
# loopback, in the same run, alternating the two. Prints req/s and p99 for
# both and the ratio hc/hyper (goal >= 0.9). Measures only; asserts nothing.
#
# Settings: DURATION (10s), CONNECTIONS (32), THREADS (1), ROUNDS (2), WRK (wrk).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
ROUNDS="${ROUNDS:-2}"
WRK="${WRK:-wrk}"
command -v "$WRK" >/dev/null || { echo "wrk not found (apt-get install wrk, or set WRK=)" >&2; exit 2; }

echo "building hc and the const_server example (release)" >&2
cargo build --release -q -p hc --bin hc --example const_server

WORK="$(mktemp -d)"
# PIDS, cleanup on exit (servers and WORK) and wait_line.
. "$ROOT/scripts/lib/servers.sh"

HC_ADDR=127.0.0.1:0 RUST_LOG=warn,hc=info target/release/hc 2>"$WORK/hc.log" &
PIDS+=($!)
target/release/examples/const_server 127.0.0.1:0 >"$WORK/const.log" &
PIDS+=($!)
HC="$(wait_line "$WORK/hc.log" 's/.*msg=listening listener=public addr=\([^ ]*\).*/\1/p')"
CONST="$(wait_line "$WORK/const.log" 's/^listening \(.*\)$/\1/p')"

# run_wrk URL -> "RPS P99_MS"
run_wrk() {
  local out
  out="$("$WRK" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$1")"
  local rps p99
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  # wrk prints e.g. 512.00us, 1.20ms, 1.01s: convert to ms.
  p99="$(awk -v v="$p99" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else print "nan" }')"
  if grep -q "Non-2xx" <<<"$out"; then echo "warning: non-2xx answers in $1" >&2; fi
  echo "$rps $p99"
}

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, alternating"
printf '%-6s %-8s %12s %10s\n' round server "req/s" "p99 ms"
HC_SUM=0; CONST_SUM=0; HC_P99=(); CONST_P99=()
for r in $(seq 1 "$ROUNDS"); do
  read -r crps cp99 < <(run_wrk "http://$CONST/health_check.html")
  printf '%-6s %-8s %12s %10s\n' "$r" hyper "$crps" "$cp99"
  read -r hrps hp99 < <(run_wrk "http://$HC/health_check.html")
  printf '%-6s %-8s %12s %10s\n' "$r" hc "$hrps" "$hp99"
  HC_SUM="$(awk -v a="$HC_SUM" -v b="$hrps" 'BEGIN {print a + b}')"
  CONST_SUM="$(awk -v a="$CONST_SUM" -v b="$crps" 'BEGIN {print a + b}')"
  HC_P99+=("$hp99"); CONST_P99+=("$cp99")
done
awk -v h="$HC_SUM" -v c="$CONST_SUM" -v n="$ROUNDS" 'BEGIN {
  printf "mean req/s: hc %.0f, hyper %.0f; ratio hc/hyper = %.3f (goal >= 0.9)\n", h / n, c / n, h / c }'
echo "p99 ms per round: hc ${HC_P99[*]}; hyper ${CONST_P99[*]}"
