#!/usr/bin/env bash
# Benchmark (prints, asserts nothing): our load generator (`harness load`)
# against wrk and oha, side by side in one run, on loopback. The server is
# pinned to core 0, every load tool to core 1 with one worker thread and the
# same connection count; every figure is the median of REPS runs, tools
# alternating. Four tables:
#   1. closed-loop ceiling req/s against a minimal hyper server
#      (apps/hc/examples/const_server.rs, as scripts/bench-hc.sh) and the
#      backend's `/` (goal: ours >= oha, ours >= 0.8 x wrk);
#   2. the highest open-loop rate (of RATES) each tool sustains: achieved
#      >= 0.99 x target, p99 <= P99_BOUND_MS, no error, in most REPS
#      (wrk has no open loop; oha with -q and --latency-correction);
#   3. CPU time (user + sys of the tool's process) per request at each of
#      CPU_RATES req/s (wrk: at its closed-loop ceiling, it has no rate mode);
#   4. histogram truth: the server is SIGSTOPped STALL_MS every 5 s during
#      a STALL_DURATION open-loop run at STALL_RATE; the model row is what
#      latency from the intended send time must show.
#
#   5. the same stall applied to the load tool itself: intended send times
#      keep it, a wake-time correction (oha --latency-correction) hides it.
#
# Usage: scripts/bench-loadgen.sh [all|closed|open|cpu|stall|selfstall]...
# Settings: DURATION (5s), CONNECTIONS (16), REPS (3), RATES ("5000 10000
# 15000 20000 25000 30000"), P99_BOUND_MS (10), CPU_RATES ("5000 10000"),
# STALL_RATE (2000), STALL_DURATION (20), STALL_MS (200), OHA
# (tools/oha/bin/oha; `cargo install oha --root tools/oha`), WRK (wrk),
# LAB_NO_BUILD=1 to skip the release build, CARGO_TARGET_DIR (where the
# release binaries are), BEFORE (a second `harness` binary, e.g. the build
# before a change: it runs as tool "before" next to "ours" in tables 1-3,
# so before/after is measured side by side in the same run), PRECISE (1:
# also run ours with `--send-window 0`, a wake-up per request, as tool
# "ours-w0" in tables 2 and 3; 0: not).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-16}"
REPS="${REPS:-3}"
RATES="${RATES:-5000 10000 15000 20000 25000 30000}"
P99_BOUND_MS="${P99_BOUND_MS:-10}"
CPU_RATES="${CPU_RATES:-${CPU_RATE:-5000 10000}}"
BEFORE="${BEFORE:-}"
PRECISE="${PRECISE:-1}"
STALL_RATE="${STALL_RATE:-2000}"
STALL_DURATION="${STALL_DURATION:-20}"
STALL_MS="${STALL_MS:-200}"
OHA="${OHA:-$ROOT/tools/oha/bin/oha}"
WRK="${WRK:-wrk}"
PHASES="${*:-all}"
SERVER_CORE=0
TOOL_CORE=1

command -v "$WRK" >/dev/null || { echo "wrk not found (apt-get install wrk, or set WRK=)" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq not found" >&2; exit 2; }
HAVE_OHA=1
[ -x "$OHA" ] || { echo "oha not found at $OHA: comparing with wrk only" >&2; HAVE_OHA=0; }
if [ "${LAB_NO_BUILD:-}" != 1 ]; then
  echo "building harness, backend and the const_server example (release)" >&2
  # (--example alone would build only the example: two commands)
  cargo build --release -q -p harness -p backend --bins
  cargo build --release -q -p hc --example const_server
fi
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
HARNESS="$TARGET/harness"
[ -z "$BEFORE" ] || [ -x "$BEFORE" ] || { echo "BEFORE=$BEFORE is not an executable" >&2; exit 2; }

WORK="$(mktemp -d /tmp/bench-loadgen.XXXXXX)"
# PIDS, cleanup on exit (servers and WORK) and wait_line.
. "$ROOT/scripts/lib/servers.sh"

TOKIO_WORKER_THREADS=1 taskset -c "$SERVER_CORE" "$TARGET/examples/const_server" 127.0.0.1:0 >"$WORK/const.log" &
CONST_PID=$!; PIDS+=("$CONST_PID")
TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c "$SERVER_CORE" "$TARGET/backend" \
  --addr 127.0.0.1:0 --pod-name bench 2>"$WORK/backend.log" &
BACKEND_PID=$!; PIDS+=("$BACKEND_PID")
CONST="$(wait_line "$WORK/const.log" 's/^listening \(.*\)$/\1/p')"
# The backend logs at warn: find its port from the socket table instead.
BACKEND=""
for _ in $(seq 1 100); do
  BACKEND="$(ss -ltnpH 2>/dev/null | awk -v pid="pid=$BACKEND_PID," '$0 ~ pid {print $4; exit}')"
  [ -n "$BACKEND" ] && break
  sleep 0.05
done
[ -n "$BACKEND" ] || { echo "backend did not start" >&2; cat "$WORK/backend.log" >&2; exit 2; }

# Every tool run appends one line to $RESULTS:
# phase target tool rate rep rps p50 p90 p99 p999 max errors requests cpu_s
RESULTS="$WORK/results.txt"
: >"$RESULTS"
secs() { sed 's/s$//' <<<"$1"; }

timed() { # timed CPUFILE CMD... (pinned to the tool core)
  local f="$1"; shift
  /usr/bin/time -f '%U %S' -o "$f" taskset -c "$TOOL_CORE" "$@"
}
cpu_of() { awk '{printf "%.3f", $1 + $2}' "$1"; }

run_ours() { # run_ours PHASE TARGET URL RATE(- = closed) REP [DURATION] (TOOL=before: the BEFORE binary)
  local phase="$1" target="$2" url="$3" rate="$4" rep="$5" dur="${6:-$DURATION}"
  local tool="${TOOL:-ours}" bin="$HARNESS"
  if [ "$tool" = before ]; then
    [ -n "$BEFORE" ] || return 0
    bin="$BEFORE"
  fi
  local args=(load --url "$url" --connections "$CONNECTIONS" --duration "$dur" --threads 1 --json)
  [ "$rate" != - ] && args+=(--rate "$rate")
  [ "$tool" = ours-w0 ] && args+=(--send-window 0)
  timed "$WORK/cpu" "$bin" "${args[@]}" >"$WORK/ours.json" || true
  local cpu; cpu="$(cpu_of "$WORK/cpu")"
  jq -r --arg p "$phase" --arg t "$target" --arg tool "$tool" --arg r "$rate" --arg rep "$rep" --arg cpu "$cpu" '
    def l(k): (.latency_ms[k] // {p50: "nan", p90: "nan", p99: "nan", p999: "nan", max: "nan"});
    [$p, $t, $tool, $r, $rep, .achieved_rps, l("corrected").p50, l("corrected").p90,
     l("corrected").p99, l("corrected").p999, l("corrected").max, .errors, .completed, $cpu],
    (if $p == "stall" then [$p, $t, "ours-uncorrected", $r, $rep, .achieved_rps,
     l("uncorrected").p50, l("uncorrected").p90, l("uncorrected").p99, l("uncorrected").p999,
     l("uncorrected").max, .errors, .completed, $cpu] else empty end)
    | map(tostring) | join(" ")' "$WORK/ours.json" >>"$RESULTS"
}

run_oha() { # run_oha PHASE TARGET URL RATE(- = closed) REP CORRECT(0/1) [DURATION]
  local phase="$1" target="$2" url="$3" rate="$4" rep="$5" corr="$6" dur="${7:-$DURATION}"
  [ "$HAVE_OHA" = 1 ] || return 0
  local args=(--no-tui -w -c "$CONNECTIONS" -z "$dur" --worker-threads 1 --output-format json)
  local name=oha
  [ "$rate" != - ] && args+=(-q "$rate")
  [ "$corr" = 1 ] && { args+=(--latency-correction); name=oha-corrected; }
  timed "$WORK/cpu" "$OHA" "${args[@]}" "$url" >"$WORK/oha.json" 2>"$WORK/oha.err" || true
  local cpu; cpu="$(cpu_of "$WORK/cpu")"
  jq -r --arg p "$phase" --arg t "$target" --arg n "$name" --arg r "$rate" --arg rep "$rep" --arg cpu "$cpu" '
    (.statusCodeDistribution | to_entries | map(select(.key | startswith("2")) | .value) | add // 0) as $ok
    | ((.errorDistribution | to_entries | map(.value) | add // 0)
       + (.statusCodeDistribution | to_entries | map(select(.key | startswith("2") | not) | .value) | add // 0)) as $err
    | .latencyPercentiles as $l
    | [$p, $t, $n, $r, $rep, ($ok / .summary.total), $l.p50 * 1000, $l.p90 * 1000, $l.p99 * 1000,
       $l["p99.9"] * 1000, .summary.slowest * 1000, $err, ($ok + $err), $cpu]
    | map(tostring) | join(" ")' "$WORK/oha.json" >>"$RESULTS"
}

run_before() { TOOL=before run_ours "$@"; }
run_w0() { [ "$PRECISE" = 1 ] && TOOL=ours-w0 run_ours "$@"; return 0; }

run_wrk() { # run_wrk PHASE TARGET URL REP [DURATION]
  local phase="$1" target="$2" url="$3" rep="$4" dur="${5:-$DURATION}"
  timed "$WORK/cpu" "$WRK" -t1 -c"$CONNECTIONS" -d"$dur" --latency "$url" >"$WORK/wrk.txt" || true
  local cpu; cpu="$(cpu_of "$WORK/cpu")"
  awk -v p="$phase" -v t="$target" -v rep="$rep" -v cpu="$cpu" '
    function ms(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
      if (v ~ /m$/) { sub(/m$/, "", v); return v * 60000 }
      if (v ~ /s$/) { sub(/s$/, "", v); return v * 1000 }
      return "nan" }
    $1 == "Latency" && NF >= 4 && max == "" { max = ms($4) }
    $1 == "50%" { p50 = ms($2) } $1 == "90%" { p90 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /requests in/ { n = $1 }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
    END { printf "%s %s wrk - %s %s %s %s %s nan %s %d %s %s\n", p, t, rep, rps, p50, p90, p99, max, err, n, cpu }
  ' "$WORK/wrk.txt" >>"$RESULTS"
}

want() { [[ " $PHASES " == *" all "* || " $PHASES " == *" $1 "* ]]; }
say() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

if want closed; then
  for target in hyper backend; do
    url="http://$CONST/"; [ "$target" = backend ] && url="http://$BACKEND/"
    for rep in $(seq 1 "$REPS"); do
      say "closed loop, $target, rep $rep"
      # Rotate the order so no tool always runs first.
      case $((rep % 3)) in
        1) run_ours closed "$target" "$url" - "$rep"; run_wrk closed "$target" "$url" "$rep"; run_oha closed "$target" "$url" - "$rep" 0; run_before closed "$target" "$url" - "$rep" ;;
        2) run_wrk closed "$target" "$url" "$rep"; run_before closed "$target" "$url" - "$rep"; run_oha closed "$target" "$url" - "$rep" 0; run_ours closed "$target" "$url" - "$rep" ;;
        0) run_before closed "$target" "$url" - "$rep"; run_oha closed "$target" "$url" - "$rep" 0; run_ours closed "$target" "$url" - "$rep"; run_wrk closed "$target" "$url" "$rep" ;;
      esac
    done
  done
fi

if want open; then
  for tool in ours ours-w0 before oha-corrected; do
    [ "$tool" = oha-corrected ] && [ "$HAVE_OHA" = 0 ] && continue
    [ "$tool" = before ] && [ -z "$BEFORE" ] && continue
    [ "$tool" = ours-w0 ] && [ "$PRECISE" != 1 ] && continue
    for rate in $RATES; do
      say "open loop, $tool, $rate req/s"
      for rep in $(seq 1 "$REPS"); do
        case $tool in
          ours) run_ours open hyper "http://$CONST/" "$rate" "$rep" ;;
          before) run_before open hyper "http://$CONST/" "$rate" "$rep" ;;
          ours-w0) run_w0 open hyper "http://$CONST/" "$rate" "$rep" ;;
          *) run_oha open hyper "http://$CONST/" "$rate" "$rep" 1 ;;
        esac
      done
      # Stop at the first rate most reps fail.
      pass="$(awk -v t="$tool" -v r="$rate" -v b="$P99_BOUND_MS" '
        $1 == "open" && $3 == t && $4 == r && $6 >= 0.99 * r && $9 <= b && $12 == 0 { n++ }
        END { print n + 0 }' "$RESULTS")"
      [ "$pass" -gt $((REPS / 2)) ] || break
    done
  done
fi

if want cpu; then
  for rep in $(seq 1 "$REPS"); do
    for rate in $CPU_RATES; do
      say "cpu at $rate req/s, rep $rep"
      # Rotate the order so no tool always runs first.
      case $((rep % 3)) in
        1) run_ours cpu hyper "http://$CONST/" "$rate" "$rep"; run_oha cpu hyper "http://$CONST/" "$rate" "$rep" 0; run_before cpu hyper "http://$CONST/" "$rate" "$rep"; run_w0 cpu hyper "http://$CONST/" "$rate" "$rep" ;;
        2) run_oha cpu hyper "http://$CONST/" "$rate" "$rep" 0; run_w0 cpu hyper "http://$CONST/" "$rate" "$rep"; run_before cpu hyper "http://$CONST/" "$rate" "$rep"; run_ours cpu hyper "http://$CONST/" "$rate" "$rep" ;;
        0) run_before cpu hyper "http://$CONST/" "$rate" "$rep"; run_ours cpu hyper "http://$CONST/" "$rate" "$rep"; run_w0 cpu hyper "http://$CONST/" "$rate" "$rep"; run_oha cpu hyper "http://$CONST/" "$rate" "$rep" 0 ;;
      esac
    done
    run_wrk cpu hyper "http://$CONST/" "$rep"
  done
fi

stall_loop() { # stall_loop PID SECONDS: SIGSTOP for STALL_MS every 5 s, from +2.4 s
  local pid="$1" n=$(( $2 / 5 )) i
  sleep 2.4
  for i in $(seq 1 "$n"); do
    kill -STOP "$pid"
    sleep "$(awk -v m="$STALL_MS" 'BEGIN {print m / 1000}')"
    kill -CONT "$pid"
    [ "$i" -lt "$n" ] && sleep "$(awk -v m="$STALL_MS" 'BEGIN {print 5 - m / 1000}')"
  done
}

if want stall; then
  for rep in $(seq 1 "$REPS"); do
    for tool in ours oha oha-corrected wrk; do
      [[ "$tool" == oha* ]] && [ "$HAVE_OHA" = 0 ] && continue
      say "stall, $tool, rep $rep"
      stall_loop "$CONST_PID" "$STALL_DURATION" &
      STALLER=$!
      case $tool in
        ours) run_ours stall hyper "http://$CONST/" "$STALL_RATE" "$rep" "${STALL_DURATION}s" ;;
        oha) run_oha stall hyper "http://$CONST/" "$STALL_RATE" "$rep" 0 "${STALL_DURATION}s" ;;
        oha-corrected) run_oha stall hyper "http://$CONST/" "$STALL_RATE" "$rep" 1 "${STALL_DURATION}s" ;;
        wrk) run_wrk stall hyper "http://$CONST/" "$rep" "${STALL_DURATION}s" ;;
      esac
      wait "$STALLER" || true
      kill -CONT "$CONST_PID" 2>/dev/null || true
    done
  done
fi

tool_pid() { # tool_pid SUBSHELL_PID: the tool under subshell -> /usr/bin/time -> taskset (exec)
  local t="" p=""
  for _ in $(seq 1 100); do
    t="$(pgrep -P "$1" -x time | head -1 || true)"
    [ -n "$t" ] && p="$(pgrep -P "$t" | head -1 || true)"
    [ -n "$p" ] && { echo "$p"; return 0; }
    sleep 0.02
  done
  return 1
}

# 5. The load generator itself stalls (SIGSTOP of the tool, as a noisy
# neighbour or a GC would): a wake-time correction restarts the clock at
# the wake-up and hides the stall; intended send times do not.
if want selfstall; then
  for rep in $(seq 1 "$REPS"); do
    for tool in ours oha-corrected; do
      [[ "$tool" == oha* ]] && [ "$HAVE_OHA" = 0 ] && continue
      say "self-stall, $tool, rep $rep"
      if [ "$tool" = ours ]; then
        run_ours selfstall hyper "http://$CONST/" "$STALL_RATE" "$rep" "${STALL_DURATION}s" &
      else
        run_oha selfstall hyper "http://$CONST/" "$STALL_RATE" "$rep" 1 "${STALL_DURATION}s" &
      fi
      RUNNER=$!
      if TOOL="$(tool_pid "$RUNNER")"; then
        stall_loop "$TOOL" "$STALL_DURATION" || true
      else
        echo "could not find the $tool process to stall" >&2
      fi
      wait "$RUNNER" || true
    done
  done
fi

cp "$RESULTS" "${RESULTS_COPY:-/tmp/bench-loadgen-results.txt}"
echo
echo "bench-loadgen $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); server on core $SERVER_CORE, tool on core $TOOL_CORE, 1 thread each, $CONNECTIONS connections, $DURATION runs, median of $REPS"
echo "versions: $("$WRK" -v 2>&1 | head -1 | awk '{print $1, $2}'); $([ "$HAVE_OHA" = 1 ] && "$OHA" --version); harness $("$HARNESS" --version | awk '{print $2}')"
python3 - "$RESULTS" "$P99_BOUND_MS" "$STALL_RATE" "$STALL_MS" "$STALL_DURATION" <<'EOF'
import math, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
bound, stall_rate, stall_ms, stall_s = (float(x) for x in sys.argv[2:6])
def num(x):
    try:
        v = float(x)
        return None if math.isnan(v) else v
    except ValueError:
        return None
def med(rs, col):
    xs = [num(r[col]) for r in rs]
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def fmt(x, spec="%.0f"):
    return "-" if x is None else spec % x
def sel(phase, **kw):
    return [r for r in rows if r[0] == phase and all(r[{"target": 1, "tool": 2, "rate": 3}[k]] == v for k, v in kw.items())]
def model(q):
    # Requests meant during a stall of S ms every 5 s wait S - t: the share
    # S / 5000 of all; quantile q above 1 - share is S x (1 - (1 - q) / share).
    share = stall_ms / 5000.0
    return stall_ms * (1 - (1 - q) / share) if q > 1 - share else None
COLS = {"rps": 5, "p50": 6, "p90": 7, "p99": 8, "p999": 9, "max": 10, "err": 11, "n": 12, "cpu": 13}

def us_per_req(rs):
    v = [float(r[13]) * 1e6 / float(r[12]) for r in rs if num(r[12])]
    return statistics.median(v) if v else None
def ratio(a, b):
    return fmt(a / b if a and b else None, "%.2f")

if sel("closed"):
    print("\n1. closed-loop ceiling (req/s, median); goal: ours >= 0.8 x wrk, CPU per request <= 1.2 x wrk's")
    print("%-8s %10s %10s %10s %10s %10s %10s %14s" % ("target", "ours", "before", "wrk", "oha", "ours/wrk", "ours/oha", "ours p99 ms"))
    for t in ("hyper", "backend"):
        o, b, w, h = (med(sel("closed", target=t, tool=x), COLS["rps"]) for x in ("ours", "before", "wrk", "oha"))
        if o is None: continue
        print("%-8s %10s %10s %10s %10s %10s %10s %14s" % (t, fmt(o), fmt(b), fmt(w), fmt(h), ratio(o, w), ratio(o, h),
              fmt(med(sel("closed", target=t, tool="ours"), COLS["p99"]), "%.2f")))
    print("CPU us/request (user+sys / requests, median):")
    print("%-8s %10s %10s %10s %10s %10s %10s" % ("target", "ours", "before", "wrk", "oha", "ours/wrk", "ours/oha"))
    for t in ("hyper", "backend"):
        us = {x: us_per_req(sel("closed", target=t, tool=x)) for x in ("ours", "before", "wrk", "oha")}
        print("%-8s %10s %10s %10s %10s %10s %10s" % (t, *(fmt(us[x], "%.1f") for x in ("ours", "before", "wrk", "oha")),
              ratio(us["ours"], us["wrk"]), ratio(us["ours"], us["oha"])))

if sel("open"):
    print("\n2. open loop, hyper: achieved req/s and p99 ms per target rate (median); pass = achieved >= 0.99 x rate, p99 <= %g ms, 0 errors" % bound)
    print("%-15s %8s %10s %10s %8s %8s" % ("tool", "rate", "achieved", "p99 ms", "errors", "pass"))
    best = {}
    for tool in ("ours", "ours-w0", "before", "oha-corrected"):
        rates = sorted({int(r[3]) for r in sel("open", tool=tool)})
        for rate in rates:
            rs = sel("open", tool=tool, rate=str(rate))
            passes = sum(1 for r in rs if num(r[5]) and float(r[5]) >= 0.99 * rate and (num(r[8]) or 1e9) <= bound and float(r[11]) == 0)
            ok = passes > len(rs) // 2
            if ok: best[tool] = rate
            print("%-15s %8d %10s %10s %8s %8s" % (tool, rate, fmt(med(rs, 5)), fmt(med(rs, 8), "%.2f"), fmt(med(rs, 11)), "%d/%d" % (passes, len(rs))))
    o, z, b, h = (best.get(t) for t in ("ours", "ours-w0", "before", "oha-corrected"))
    print("max sustained: ours %s, ours-w0 %s, before %s, oha %s%s" % (fmt(o), fmt(z), fmt(b), fmt(h), "; ratio ours/oha %.2f" % (o / h) if o and h else ""))

if sel("cpu"):
    print("\n3. CPU time per request (user+sys of the tool), median; ours, before and oha at a fixed rate, wrk at its closed-loop ceiling")
    print("%-8s %8s %12s %12s %12s %14s" % ("tool", "rate", "req/s", "cpu s", "us/request", "ratio to oha"))
    for rate in sorted({r[3] for r in sel("cpu") if r[3] != "-"}, key=float):
        per = {t: us_per_req(sel("cpu", tool=t, rate=rate)) for t in ("ours", "ours-w0", "before", "oha")}
        for tool in ("ours", "ours-w0", "before", "oha"):
            rs = sel("cpu", tool=tool, rate=rate)
            if not rs: continue
            print("%-8s %8s %12s %12s %12s %14s" % (tool, rate, fmt(med(rs, 5)), fmt(med(rs, 13), "%.2f"), fmt(per[tool], "%.1f"), ratio(per[tool], per["oha"])))
    rs = sel("cpu", tool="wrk")
    if rs:
        print("%-8s %8s %12s %12s %12s" % ("wrk", "-", fmt(med(rs, 5)), fmt(med(rs, 13), "%.2f"), fmt(us_per_req(rs), "%.1f")))

if sel("stall"):
    print("\n4. histogram truth: server SIGSTOPped %g ms every 5 s, %g s at %g req/s (median of reps; ms)" % (stall_ms, stall_s, stall_rate))
    print("%-17s %9s %8s %8s %8s %8s %8s" % ("tool", "req/s", "p50", "p90", "p99", "p99.9", "max"))
    print("%-17s %9s %8s %8s %8s %8s %8s" % ("model (intended)", fmt(stall_rate), "~base", "~base",
          fmt(model(0.99), "%.1f"), fmt(model(0.999), "%.1f"), fmt(stall_ms, "%.1f")))
    for tool in ("ours", "ours-uncorrected", "oha", "oha-corrected", "wrk"):
        rs = sel("stall", tool=tool)
        if not rs: continue
        print("%-17s %9s %8s %8s %8s %8s %8s" % (tool, fmt(med(rs, 5)), *(fmt(med(rs, COLS[k]), "%.2f") for k in ("p50", "p90", "p99", "p999", "max"))))
    print("ours = from the intended send time t0 + i/rate; ours-uncorrected = from the actual send (same run);")
    print("oha = -q without correction; oha-corrected = -q --latency-correction; wrk = closed loop, its")
    print("post-run stats_correct adds synthetic samples (so it is not an uncorrected tool)")

if sel("selfstall"):
    print("\n5. the load tool itself SIGSTOPped %g ms every 5 s, %g s at %g req/s (median of reps; ms)" % (stall_ms, stall_s, stall_rate))
    print("%-17s %9s %8s %8s %8s %8s %8s" % ("tool", "req/s", "p50", "p90", "p99", "p99.9", "max"))
    print("%-17s %9s %8s %8s %8s %8s %8s" % ("model (intended)", fmt(stall_rate), "~base", "~base",
          fmt(model(0.99), "%.1f"), fmt(model(0.999), "%.1f"), fmt(stall_ms, "%.1f")))
    for tool in ("ours", "oha-corrected"):
        rs = sel("selfstall", tool=tool)
        if not rs: continue
        print("%-17s %9s %8s %8s %8s %8s %8s" % (tool, fmt(med(rs, 5)), *(fmt(med(rs, COLS[k]), "%.2f") for k in ("p50", "p90", "p99", "p999", "max"))))
EOF
