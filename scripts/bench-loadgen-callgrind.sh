#!/usr/bin/env bash
# Benchmark (prints, asserts nothing): instructions per request of our load
# generator (`harness load`) and oha, counted by valgrind's callgrind, which
# counts the same on a quiet or a busy machine (user-space instructions
# only: the kernel's share of a syscall is not in it; see bench-loadgen.sh
# for CPU time). The server (the minimal hyper server of bench-hc.sh) runs
# natively on core 0; each tool runs under callgrind, one worker thread,
# CONNECTIONS connections.
#
# Per-request cost is marginal: each case runs twice, for SHORT and LONG
# seconds, and the table prints (Ir_long - Ir_short) / (n_long - n_short),
# so the start-up (runtime, argument parsing, connects) cancels out.
# Cases: closed loop, and open loop at OPEN_RATE req/s (low: under callgrind
# a tool runs ~50x slower, and an open loop must keep up with its rate).
#
# Usage: scripts/bench-loadgen-callgrind.sh
# Settings: CONNECTIONS (16), SHORT (2), LONG (4), OPEN_RATE (200), OHA
# (tools/oha/bin/oha), BEFORE (a second harness binary, run as "before"),
# CARGO_TARGET_DIR, LAB_NO_BUILD=1, KEEP=DIR (keep the callgrind.out files
# there for callgrind_annotate).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
CONNECTIONS="${CONNECTIONS:-16}"
SHORT="${SHORT:-2}"
LONG="${LONG:-4}"
OPEN_RATE="${OPEN_RATE:-200}"
OHA="${OHA:-$ROOT/tools/oha/bin/oha}"
BEFORE="${BEFORE:-}"
KEEP="${KEEP:-}"
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq not found" >&2; exit 2; }
HAVE_OHA=1
[ -x "$OHA" ] || { echo "oha not found at $OHA: ours only" >&2; HAVE_OHA=0; }
if [ "${LAB_NO_BUILD:-}" != 1 ]; then
  echo "building harness and the const_server example (release)" >&2
  cargo build --release -q -p harness --bins
  cargo build --release -q -p hc --example const_server
fi
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
HARNESS="$TARGET/harness"

WORK="$(mktemp -d /tmp/bench-callgrind.XXXXXX)"
# PIDS, cleanup on exit (server and WORK) and wait_line.
. "$ROOT/scripts/lib/servers.sh"

TOKIO_WORKER_THREADS=1 taskset -c 0 "$TARGET/examples/const_server" 127.0.0.1:0 >"$WORK/const.log" &
PIDS+=($!)
ADDR="$(wait_line "$WORK/const.log" 's/^listening \(.*\)$/\1/p')"
URL="http://$ADDR/"

# grind NAME SECS CMD... -> prints "Ir requests" (requests from the tool's JSON)
grind() {
  local name="$1" secs="$2"; shift 2
  local out="$WORK/callgrind.$name.$secs"
  taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >"$WORK/$name.json" 2>"$WORK/$name.err" || true
  local ir n
  ir="$(awk '/^summary:/ {print $2}' "$out")"
  case "$name" in
    oha*) n="$(jq '.statusCodeDistribution | to_entries | map(.value) | add // 0' "$WORK/$name.json")" ;;
    *) n="$(jq '.completed' "$WORK/$name.json")" ;;
  esac
  [ -n "$KEEP" ] && { mkdir -p "$KEEP"; cp "$out" "$KEEP/"; }
  echo "$ir $n"
}

ours() { # ours TAG BIN MODE SECS
  local args=(load --url "$URL" --connections "$CONNECTIONS" --duration "${4}s" --threads 1 --json)
  [ "$3" = open ] && args+=(--rate "$OPEN_RATE")
  grind "$1-$3" "$4" "$2" "${args[@]}"
}
oha() { # oha MODE SECS
  local args=(--no-tui -w -c "$CONNECTIONS" -z "${2}s" --worker-threads 1 --output-format json)
  [ "$1" = open ] && args+=(-q "$OPEN_RATE" --latency-correction)
  grind "oha-$1" "$2" "$OHA" "${args[@]}" "$URL"
}

printf "%-8s %-7s %12s %12s %10s %10s %14s\n" tool mode "Ir short" "Ir long" "n short" "n long" "Ir/request"
row() { # row TOOL MODE "Ir n" "Ir n"
  read -r i1 n1 <<<"$3"; read -r i2 n2 <<<"$4"
  awk -v t="$1" -v m="$2" -v i1="$i1" -v i2="$i2" -v n1="$n1" -v n2="$n2" 'BEGIN {
    per = (n2 > n1) ? sprintf("%.0f", (i2 - i1) / (n2 - n1)) : "-"
    printf "%-8s %-7s %12d %12d %10d %10d %14s\n", t, m, i1, i2, n1, n2, per }'
}
for mode in closed open; do
  row ours "$mode" "$(ours ours "$HARNESS" "$mode" "$SHORT")" "$(ours ours "$HARNESS" "$mode" "$LONG")"
  if [ -n "$BEFORE" ]; then
    row before "$mode" "$(ours before "$BEFORE" "$mode" "$SHORT")" "$(ours before "$BEFORE" "$mode" "$LONG")"
  fi
  if [ "$HAVE_OHA" = 1 ]; then
    row oha "$mode" "$(oha "$mode" "$SHORT")" "$(oha "$mode" "$LONG")"
  fi
done
echo "(open: $OPEN_RATE req/s; oha open = -q $OPEN_RATE --latency-correction; $CONNECTIONS connections; valgrind $(valgrind --version))"
