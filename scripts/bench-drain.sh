#!/usr/bin/env bash
# Benchmark (prints, asserts nothing): drain vs the physical limit.
# Runs scenarios/bench/drain.toml (s1-like: a pinned 3 s request and 50 req/s
# of steady load through real HAProxy + Envoy, pod-a deleted at +1 s) many
# times per mode and reads each run's timeline.csv:
#   close-lb -> CLOSED  = drain `hc_close` - drain `hc_close_lb`
#   limit               = HAProxy's own log line for pod-a after close-lb
#                         (`server_down` with the 503 signal, `server_nolb`
#                         with the 404 soft stop; stamped when the harness
#                         read the line, as drain's lines are)
#   delta               = `hc_close` - limit (goal for auto: 0 <= delta <= 500 ms)
# and prints one table (min/median/max) with disruptions summed over the runs.
#
# Usage: scripts/bench-drain.sh
# Settings: RUNS_AUTO (20: runs of auto-404 and auto-503), RUNS_FIXED (3: runs
# of fixed10-404 and fixed10-503), LAB_POD_NET (81), ARTIFACTS (a temp dir,
# kept), LAB_NO_BUILD=1 to skip the release build.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RUNS_AUTO="${RUNS_AUTO:-20}"
RUNS_FIXED="${RUNS_FIXED:-3}"
export LAB_POD_NET="${LAB_POD_NET:-81}"
ARTIFACTS="${ARTIFACTS:-$(mktemp -d /tmp/bench-drain.XXXXXX)}"
SCENARIO="scenarios/bench/drain.toml"
mkdir -p "$ARTIFACTS"

if [ "${LAB_NO_BUILD:-}" != 1 ]; then
  echo "building (release)" >&2
  cargo build --release -q -p harness -p backend -p hc -p drain
fi
export LAB_NO_BUILD=1
HARNESS="$ROOT/target/release/harness"

run_mode() { # run_mode MODE N
  local mode="$1" n="$2" i
  for i in $(seq 1 "$n"); do
    if "$HARNESS" scenario "$SCENARIO" --mode "$mode" --runtime local \
      --artifacts "$ARTIFACTS" >"$ARTIFACTS/last.log" 2>&1; then
      echo "$mode run $i/$n: pass" >&2
    else
      echo "$mode run $i/$n: FAIL (see $(grep -o '/[^ ]*bench-drain-[^ ]*' "$ARTIFACTS/last.log" | tail -1))" >&2
    fi
  done
}

# Interleave the modes so a noisy minute does not hit one mode only.
start=$(date +%s)
max_runs=$(( RUNS_AUTO > RUNS_FIXED ? RUNS_AUTO : RUNS_FIXED ))
for i in $(seq 1 "$max_runs"); do
  [ "$i" -le "$RUNS_AUTO" ] && { run_mode auto-404 1; run_mode auto-503 1; }
  [ "$i" -le "$RUNS_FIXED" ] && { run_mode fixed10-404 1; run_mode fixed10-503 1; }
done
echo "all runs took $(( $(date +%s) - start )) s; run folders in $ARTIFACTS" >&2

# One line per run: mode close_lb_ms limit_ms limit_event close_ms disruptions verdict
per_run() {
  local d
  for d in "$ARTIFACTS"/*-bench-drain-*/; do
    [ -f "$d/summary.json" ] && [ -f "$d/timeline.csv" ] || continue
    local mode dis verdict
    mode="$(jq -r .mode "$d/summary.json")"
    dis="$(jq -r .disruptions "$d/summary.json")"
    verdict="$(jq -r .verdict "$d/summary.json")"
    awk -F, -v mode="$mode" -v dis="$dis" -v verdict="$verdict" '
      $3 == "pod-a" && $2 == "drain" && $4 == "hc_close_lb" && cl == "" { cl = $1 }
      $3 == "pod-a" && $2 == "haproxy" && ($4 == "server_down" || $4 == "server_nolb") && cl != "" && lim == "" { lim = $1; ev = $4 }
      $3 == "pod-a" && $2 == "drain" && $4 == "hc_close" && cl != "" && c == "" { c = $1 }
      END {
        if (cl == "" || c == "") { print mode, "NA", "NA", "none", "NA", dis, verdict; exit }
        if (lim == "") { lim = "NA"; ev = "none" }
        print mode, cl, lim, ev, c, dis, verdict
      }' "$d/timeline.csv"
  done
}
per_run >"$ARTIFACTS/runs.txt"

echo
echo "bench-drain $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores; HAProxy inter 2s fall 2; runs in $ARTIFACTS"
python3 - "$ARTIFACTS/runs.txt" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
modes = ["auto-404", "auto-503", "fixed10-404", "fixed10-503"]
def f(xs):
    if not xs: return "-"
    return "%.0f / %.0f / %.0f" % (min(xs), statistics.median(xs), max(xs))
print("%-12s %4s %-22s %-11s %-24s %7s %7s %11s %5s" % (
    "mode", "runs", "close-lb->CLOSED ms", "limit", "CLOSED-limit ms", "before", "<=500ms",
    "disruptions", "fail"))
print("%-12s %4s %-22s %-11s %-24s %7s %7s %11s %5s" % (
    "", "", "min / median / max", "(HAProxy)", "min / median / max", "limit", "after", "", ""))
for m in modes:
    rs = [r for r in rows if r[0] == m]
    if not rs: continue
    ok = [r for r in rs if r[1] != "NA" and r[2] != "NA"]
    total = [float(r[4]) - float(r[1]) for r in rs if r[1] != "NA"]
    delta = [float(r[4]) - float(r[2]) for r in ok]
    evs = sorted({r[3] for r in rs})
    before = sum(1 for d in delta if d < 0)
    within = sum(1 for d in delta if 0 <= d <= 500)
    dis = sum(int(r[5]) for r in rs)
    fail = sum(1 for r in rs if r[6] != "pass")
    print("%-12s %4d %-22s %-11s %-24s %7d %7s %11d %5d" % (
        m, len(rs), f(total), "/".join(e.replace("server_", "") for e in evs), f(delta),
        before, "%d/%d" % (within, len(delta)), dis, fail))
print("goal: auto closes 0..500 ms after HAProxy's DOWN/NOLB line (never before), 0 disruptions")
EOF
