# shellcheck shell=bash
# Sourced by the benchmarks that start servers on loopback
# (bench-hc.sh, bench-loadgen.sh, bench-loadgen-callgrind.sh):
#
#   WORK="$(mktemp -d)"          # the caller's scratch folder
#   . "$ROOT/scripts/lib/servers.sh"
#   some-server 2>"$WORK/x.log" & PIDS+=($!)
#   ADDR="$(wait_line "$WORK/x.log" 's/^listening \(.*\)$/\1/p')"
#
# On exit every pid in PIDS is continued (a stall phase may have stopped
# it), killed and reaped, and WORK is removed.

PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do
    kill -CONT "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_line() { # wait_line FILE SED-EXPR -> prints the captured address
  local out=""
  for _ in $(seq 1 200); do
    out="$(sed -n "$2" "$1")"
    [ -n "$out" ] && { echo "$out"; return 0; }
    sleep 0.05
  done
  echo "server did not start:" >&2; cat "$1" >&2; exit 2
}
