#!/usr/bin/env bash
# Benchmark (prints, asserts nothing): what the harness itself costs.
# Runs scenarios/bench/cost.toml (steady load through HAProxy + Envoy to
# every pod, nothing terminated) with `pods`, `rate` and `duration` rewritten
# in a temp copy and prints one table:
#   start ms    run_start -> haproxy_ready (every pod and HAProxy up) and
#               -> lb_ready (HAProxy's first checks passed: bounded by `inter`)
#   cpu %       user + sys of the harness process alone (/proc/PID/stat,
#               not its children) / wall time: load generator, observers
#               every 200 ms, HAProxy log parsing, CSV streaming, artifacts
#               (sampled every 0.2 s: the last 0.2 s before exit is missed)
#   loadRSS     the harness process's own peak VmRSS while the load runs
#   maxRSS      its peak over the whole run (VmHWM; includes the artifacts
#               at the end, which read requests.csv whole for the plots)
#   report s    `harness report` on the run folder: rewrite plot.svg/png,
#               report.html, junit.xml from the CSVs (the artifact write)
# Rows: the steady runs at RATE req/s for each of DURATIONS (does memory grow
# with the request count?) and short low-rate runs with 2, 4, 8 pods (how do
# start time and observer CPU grow with pods?).
#
# Rows observe-P: the pods-2 run with `[observe] period = P` for each of
# OBSERVE_PERIODS (observer CPU against the sampling period).
#
# Rows share and rss: see share_run and rss_run below (printed after the
# table).
#
# Usage: scripts/bench-harness.sh [steady|pods|observe|share|rss]...
# Settings: RATE (400; 2000 saturates HAProxy + Envoy + 2 backends on 2
# shared cores: see docs/benchmarks.md), DURATIONS ("60 180" seconds), PODS ("2 4 8"),
# PODS_RATE (20), PODS_DURATION (20), RUNTIMES ("local"; add docker to
# also start the pods in containers), LAB_POD_NET (82), ARTIFACTS (a temp
# dir, kept), LAB_NO_BUILD=1 to skip the release build, HARNESS (a
# harness binary to measure instead, e.g. target/debug/harness: the dev
# profile here is opt-level 3), RSS_RATE (2000) and RSS_DURATION (600 s).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
RATE="${RATE:-400}"
DURATIONS="${DURATIONS:-60 180}"
PODS="${PODS:-2 4 8}"
PODS_RATE="${PODS_RATE:-20}"
PODS_DURATION="${PODS_DURATION:-20}"
OBSERVE_PERIODS="${OBSERVE_PERIODS:-250ms 50ms}"
RUNTIMES="${RUNTIMES:-local}"
PHASES="${*:-steady pods}"
export LAB_POD_NET="${LAB_POD_NET:-82}"
ARTIFACTS="${ARTIFACTS:-$(mktemp -d /tmp/bench-harness.XXXXXX)}"
mkdir -p "$ARTIFACTS"
command -v jq >/dev/null || { echo "jq not found" >&2; exit 2; }
# HARNESS: the binary to measure (default: the release build, made here
# unless LAB_NO_BUILD=1); its apps are the ones beside it.
if [ -z "${HARNESS:-}" ] && [ "${LAB_NO_BUILD:-}" != 1 ]; then
  echo "building (release)" >&2
  cargo build --release -q -p harness -p backend -p hc -p drain
fi
export LAB_NO_BUILD=1
HARNESS="${HARNESS:-$ROOT/target/release/harness}"
WORK="$(mktemp -d /tmp/bench-harness-work.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
ROWS="$ARTIFACTS/rows.txt"
: >"$ROWS"

runs_so_far() { find "$ARTIFACTS" -maxdepth 1 -type d -name '*-bench-cost-*' | wc -l; }

one_run() { # one_run LABEL RUNTIME PODS RATE DURATION_S [OBSERVE_PERIOD]
  local label="$1" rt="$2" pods="$3" rate="$4" dur="$5" period="${6:-}"
  local sc="$WORK/cost-$label.toml" before after dir
  sed -e "s/^pods = .*/pods = $pods/" -e "s/^rate = .*/rate = $rate.0/" \
    -e "s/^duration = .*/duration = \"${dur}s\"/" scenarios/bench/cost.toml >"$sc"
  [ -z "$period" ] || printf '\n[observe]\nperiod = "%s"\n' "$period" >>"$sc"
  before="$(runs_so_far)"
  echo "[$(date -u +%H:%M:%S)] $label: $rt, $pods pods, $rate req/s, ${dur}s" >&2
  # The harness's own CPU and peak RSS from /proc (its children, HAProxy,
  # Envoy and the pods, are not counted), sampled every 0.2 s until it exits.
  local t0 t1 ticks=0 hwm=0 load_rss=0 line
  t0="$(date +%s.%N)"
  "$HARNESS" scenario "$sc" --mode steady --runtime "$rt" --artifacts "$ARTIFACTS" >"$WORK/out.log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    line="$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true)"
    [ -n "$line" ] && ticks="$line"
    line="$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
    [ -n "$line" ] && hwm="$line"
    # Peak RSS while the load runs (it starts ~1.7 s in): before the
    # artifacts are written at the end.
    if awk -v a="$t0" -v n="$(date +%s.%N)" -v d="$dur" 'BEGIN {exit !(n - a < d + 1.5)}'; then
      line="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
      [ -n "$line" ] && [ "$line" -gt "$load_rss" ] && load_rss="$line"
    fi
    sleep 0.2
  done
  wait "$pid" || { echo "  run did not pass:" >&2; tail -5 "$WORK/out.log" >&2; }
  t1="$(date +%s.%N)"
  local wall cpu_s
  wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')"
  cpu_s="$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}')"
  after="$(runs_so_far)"
  [ "$after" -gt "$before" ] || { echo "  no run folder" >&2; return 0; }
  dir="$(ls -td "$ARTIFACTS"/*-bench-cost-* | head -1)"
  /usr/bin/time -f '%e' -o "$WORK/rtime" "$HARNESS" report "$dir" >/dev/null 2>&1 || true
  local reqs dis hr lr mib
  reqs="$(jq -r .requests "$dir/summary.json" 2>/dev/null || echo NA)"
  dis="$(jq -r .disruptions "$dir/summary.json" 2>/dev/null || echo NA)"
  hr="$(awk -F, '$4 == "run_start" {s = $1} $4 == "haproxy_ready" {printf "%.0f", $1 - s; exit}' "$dir/timeline.csv")"
  lr="$(awk -F, '$4 == "run_start" {s = $1} $4 == "lb_ready" {printf "%.0f", $1 - s; exit}' "$dir/timeline.csv")"
  mib="$(du -sk "$dir" | awk '{printf "%.1f", $1 / 1024}')"
  echo "$label $rt $pods $rate $dur ${reqs:-NA} ${dis:-NA} ${hr:-NA} ${lr:-NA} $wall $cpu_s $load_rss $hwm $(cat "$WORK/rtime" 2>/dev/null || echo NA) $mib" >>"$ROWS"
}

# share: s1's graceful mode (production load, local runtime) with the whole
# process tree sampled (scripts/lib/proctree.py): the harness's CPU against
# HAProxy's, Envoy's, the backends' and hc's (issue 16: harness <= 25 % of
# the lab's CPU). Local only: on docker the pods are not the harness's
# descendants.
share_run() {
  local out="$ARTIFACTS/share.json" dir
  echo "[$(date -u +%H:%M:%S)] share: s1 graceful, local" >&2
  "$HARNESS" scenario s1 --mode graceful --runtime local --artifacts "$ARTIFACTS" >"$WORK/share.log" 2>&1 &
  local pid=$!
  python3 "$ROOT/scripts/lib/proctree.py" "$pid" 0.5 "$out"
  wait "$pid" || { echo "  s1 graceful did not pass:" >&2; tail -5 "$WORK/share.log" >&2; }
  dir="$(ls -td "$ARTIFACTS"/*-s1-graceful* | head -1)"
  python3 - "$out" "$dir/summary.json" >"$ARTIFACTS/share.txt" <<'PY'
import json, sys
cpu = json.load(open(sys.argv[1]))["cpu_s"]
s = json.load(open(sys.argv[2]))
total = sum(cpu.values())
print(f"share: s1 graceful ({s['requests']} requests, {s['disruptions']} lost, verdict {s['verdict']}, wall {s.get('wall_s') or 0:.1f} s); CPU seconds by process (user + sys), share of the lab's total")
for comm, c in sorted(cpu.items(), key=lambda kv: -kv[1]):
    print(f"  {comm:<18} {c:8.2f} s {100 * c / total:6.1f} %")
print(f"  {'total':<18} {total:8.2f} s")
PY
}

# rss: steady load at RSS_RATE for RSS_DURATION (default 2,000 req/s for
# 600 s, issue 16's "RSS flat over 10 minutes"): the harness's VmRSS 15 s
# into the load against its last value before the load ends.
rss_run() {
  local rate="${RSS_RATE:-2000}" dur="${RSS_DURATION:-600}" sc="$WORK/cost-rss.toml" out="$ARTIFACTS/rss.json"
  sed -e "s/^pods = .*/pods = 2/" -e "s/^rate = .*/rate = $rate.0/" \
    -e "s/^duration = .*/duration = \"${dur}s\"/" scenarios/bench/cost.toml >"$sc"
  echo "[$(date -u +%H:%M:%S)] rss: local, $rate req/s, ${dur}s" >&2
  "$HARNESS" scenario "$sc" --mode steady --runtime local --artifacts "$ARTIFACTS" >"$WORK/rss.log" 2>&1 &
  local pid=$!
  python3 "$ROOT/scripts/lib/proctree.py" "$pid" 1 "$out"
  wait "$pid" || { echo "  rss run did not pass:" >&2; tail -5 "$WORK/rss.log" >&2; }
  python3 - "$out" "$dur" >"$ARTIFACTS/rss.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); dur = float(sys.argv[2])
rss = d["rss_kib"]
start = max(r for t, r in rss if 15 <= t <= 20)
end = [r for t, r in rss if t <= dur][-1]
cpu = d["cpu_s"]; total = sum(cpu.values())
print(f"rss: harness VmRSS 15 s into the load {start / 1024:.1f} MiB, at {dur:.0f} s {end / 1024:.1f} MiB: end/start {end / start:.3f}; harness CPU {100 * cpu.get('harness', 0) / total:.1f} % of the lab's")
# The first minute fills the run's fixed-size stores (the proxies' 10 s of
# log lines, the latency band's buckets, the allocator's arenas); growth
# with the request count shows after it.
if dur > 120:
    warm = max(r for t, r in rss if 60 <= t <= 65)
    print(f"  after the first minute: at 60 s {warm / 1024:.1f} MiB, at {dur:.0f} s {end / 1024:.1f} MiB: end/60 s {end / warm:.3f}")
step = max(1, int(dur // 10))
print("  VmRSS MiB every %d s: " % step + " ".join(f"{r / 1024:.1f}" for t, r in rss if int(t) % step == 0 and t <= dur + 1))
PY
}

want() { [[ " $PHASES " == *" $1 "* ]]; }
want share && share_run
want rss && rss_run
for rt in $RUNTIMES; do
  if want steady; then
    for d in $DURATIONS; do one_run "steady-${d}s" "$rt" 2 "$RATE" "$d"; done
  fi
  if want pods; then
    for p in $PODS; do one_run "pods-$p" "$rt" "$p" "$PODS_RATE" "$PODS_DURATION"; done
  fi
  if want observe; then
    for o in $OBSERVE_PERIODS; do one_run "observe-$o" "$rt" 2 "$PODS_RATE" "$PODS_DURATION" "$o"; done
  fi
done

echo
echo "bench-harness $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores; observers every 200 ms unless observe-P; run folders in $ARTIFACTS"
printf '%-13s %-7s %4s %6s %5s %8s %4s %8s %8s %7s %6s %11s %10s %8s %10s\n' \
  run runtime pods "req/s" "dur s" requests lost "start ms" "lb ms" "wall s" "cpu %" "loadRSS MiB" "maxRSS MiB" "report s" "folder MiB"
awk '{
  cpu = ($10 > 0) ? 100 * $11 / $10 : 0
  printf "%-13s %-7s %4s %6s %5s %8s %4s %8s %8s %7.1f %6.1f %11.1f %10.1f %8s %10s\n",
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, cpu, $12 / 1024, $13 / 1024, $14, $15 }' "$ROWS"
cat "$ARTIFACTS/share.txt" "$ARTIFACTS/rss.txt" 2>/dev/null || true
