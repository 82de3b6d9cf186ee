#!/usr/bin/env bash
# Reliability and security of the tool itself (issue 9): does the damage for
# real and writes the table of docs/reliability.md (every fault and hostile
# input tried, how often, held / lost N).
#
#   scripts/reliability.sh            # full: 50 interrupts + every check (~15 min)
#   scripts/reliability.sh --ci       # bounded: 10 interrupts + the fast checks (< 3 min)
#   options: --iters N  --max-secs S  --out FILE (default docs/reliability.md;
#            with --ci: artifacts/reliability-ci.md)
#
# Each check is a test of the workspace (the workspace's one build profile, real processes on
# loopback; pods on 127.0.91-94.N). Exit 1 when anything was lost.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ci=0; iters=50; max_secs=1500; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ci) ci=1; iters=10; max_secs=120 ;;
    --iters) iters=$2; shift ;;
    --max-secs) max_secs=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "usage: $0 [--ci] [--iters N] [--max-secs S] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$out" ] || { [ $ci = 1 ] && out=artifacts/reliability-ci.md || out=docs/reliability.md; }
eval "$(scripts/get-tools.sh | sed 's/^/export /')"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows="$work/rows.md"; : >"$rows"
failed=0
t0=$(date +%s)

# run_test ID TEST [name filters...]: runs one test file's tests, keeps its
# log. The harness's files are modules of one binary (harness/tests/it/):
# there TEST becomes the module path and each filter `TEST::filter`.
run_test() {
  local id=$1 test=$2; shift 2
  local sel=(--workspace --test "$test") filters=("$@")
  if [ -f "harness/tests/it/$test.rs" ]; then
    sel=(-p harness --test it)
    filters=()
    for f in "$@"; do filters+=("$test::$f"); done
    [ ${#filters[@]} -gt 0 ] || filters=("$test::")
  fi
  echo "== $id ($test) at +$(( $(date +%s) - t0 ))s" >&2
  if cargo test -q "${sel[@]}" -- --nocapture --test-threads="${THREADS:-1}" "${filters[@]}" \
      >"$work/$id.log" 2>&1; then
    echo ok
  else
    touch "$work/FAILED"; echo "FAILED"
    grep -E "panicked|FAILED|error" "$work/$id.log" | head -5 >&2
  fi
}

# passed ID: "N passed" of the log (0 when it did not run).
passed() { grep -Eo '[0-9]+ passed' "$work/$1.log" | awk '{s+=$1} END {print s+0}'; }
# figure ID REGEX: the first line of the log matching REGEX, trimmed.
figure() { grep -E "$2" "$work/$1.log" | head -1 | sed 's/^[[:space:]]*//' | cut -c1-220; }
# row WHAT HOW TRIES RESULT FIGURES
row() { printf '| %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$5" >>"$rows"; }
held() { [ "$1" = ok ] && echo held || echo "**lost** (test failed)"; }

# 1. The interrupt loop.
jsonl="$work/interrupt.jsonl"
r=$(RELIABILITY_ITERS=$iters RELIABILITY_MAX_SECS=$max_secs RELIABILITY_OUT=$jsonl \
    run_test interrupt reliability_interrupt)
interrupt_table=$(python3 - "$jsonl" <<'PY'
import json, sys, collections
its = [json.loads(l) for l in open(sys.argv[1])] if sys.argv[1] else []
by = collections.OrderedDict()
for it in its:
    by.setdefault((it["signal"], it["phase"]), []).append(it)
order = {"SIGINT": 0, "SIGTERM": 1, "SIGKILL": 2}
phases = {"startup": 0, "load": 1, "drain": 2, "teardown": 3, "after the end": 4}
print("| signal | landed in | tries | leftover processes | unreadable artifacts | busy ports | result |")
print("|---|---|---|---|---|---|---|")
tot = collections.Counter()
for (sig, ph), xs in sorted(by.items(), key=lambda k: (order.get(k[0][0], 9), phases.get(k[0][1], 9))):
    left = sum(x["leftovers"] for x in xs)
    bad = sum(len(x["unreadable"]) for x in xs)
    ports = sum(len(x["busy_ports"]) for x in xs)
    orphans = sum(x["orphans_before_gc"] for x in xs)
    lost = left + bad + ports
    extra = f" ({orphans} orphans ended by `harness gc`)" if sig == "SIGKILL" else ""
    res = "held" if lost == 0 else f"**lost {lost}**"
    print(f"| {sig} | {ph} | {len(xs)} | {left}{extra} | {bad} | {ports} | {res} |")
    tot.update(tries=len(xs), left=left, bad=bad, ports=ports, orphans=orphans)
print()
ended = sum(1 for it in its if it["phase"] == "after the end")
print(f"Total: {tot['tries']} runs signalled ({ended} had already ended), leftover processes {tot['left']} (goal 0), "
      f"unreadable artifacts {tot['bad']} (goal 0), busy ports {tot['ports']} (goal 0); "
      f"`harness gc` ended {tot['orphans']} orphans of SIGKILLed runs.")
for it in its:
    if it["unreadable"] or it["leftovers"] or it["busy_ports"]:
        print(f"- #{it['iter']} {it['signal']} in {it['phase']}: {it['unreadable']} leftovers {it['leftovers']} ports {it['busy_ports']}")
PY
)
n_int=$(wc -l <"$jsonl" 2>/dev/null || echo 0)
row "SIGINT / SIGTERM / SIGKILL to \`harness scenario\` at a random moment (startup, load, drain, teardown)" \
    "tests/it/reliability_interrupt.rs (table below)" "$n_int" "$(held "$r")" \
    "$(figure interrupt '^interrupt loop: [0-9]+ iterations in')"

# 2. Hostile input.
r=$(run_test hostile_scenario hostile_scenario)
row "Scenario files: proptest text, random bytes, mutated catalogue files, generated keys/values, 100k-deep nesting (5 forms), NUL bytes, invalid UTF-8, empty, BOM, 8 MB string" \
    "harness/tests/it/hostile_scenario.rs (4 properties x 400 cases + fixed files, also through \`harness check\`)" \
    "$(( $(passed hostile_scenario) - 4 + 1600 ))" "$(held "$r")" "no panic, no overflow; every rejection one line with file and line/key"
row "Scenario ids / mode names escaping artifacts/ (\`../x\`, absolute, \`/\`, \`..\`, space, newline, NUL, unicode, empty, 300 chars)" \
    "harness/tests/it/hostile_scenario.rs escaping_ids_and_modes_are_refused, harness_scenario_refuses_an_escaping_id_before_writing; artifacts/rundir.rs unit test" \
    "16" "$(held "$r")" "refused by \`check\` naming key \`id\`/\`modes\`; nothing written"
# Independent cases on their own ports: in parallel (each waits out a deadline).
r=$(THREADS=12 run_test drain_bad_admin bad_admin)
row "Envoy admin answering garbage, HTML, 500, 404, empty, no matching line, 1 byte/s drip, 1 GB body, endless body, silence, close" \
    "apps/drain/tests/bad_admin.rs never_read_as_zero (existing)" "$(passed drain_bad_admin)" "$(held "$r")" \
    "drain reads \"unknown\", never 0; exit 3 at DRAIN_TIMEOUT + one call timeout + last look"
if [ $ci = 0 ]; then
  r=$(run_test observer reliability_observer)
  row "HAProxy runtime API gone mid-run (silent socket 2 s, then no socket 2 s, then back)" \
      "harness/tests/it/reliability_observer.rs" "$(passed observer)" "$(held "$r")" "$(figure observer '^runtime API gone')"
fi
r=$(run_test hc_slowloris slowloris)
row "500 slowloris connections (250 dribbling, 250 silent) + oversized heads/bodies, against hc and backend" \
    "apps/hc/tests/slowloris.rs, apps/backend/tests/slowloris.rs" "$(passed hc_slowloris)" "$(held "$r")" \
    "$(grep -E 'slow connections opened' "$work/hc_slowloris.log" | sed 's/.*; \([0-9]* health checks, worst [^;]*\);.*/hc: \1/; s/.*; \([0-9]* checks of \/, worst [^;]*\);.*/backend: \1/' | tr '\n' ' ')"
if [ $ci = 0 ]; then
  r=$(run_test hc_hostile hostile)
  row "Malformed / huge / pipelined requests to hc and backend (existing tables)" \
      "apps/hc/tests/hostile.rs, apps/backend/tests/hostile.rs" "$(passed hc_hostile)" "$(held "$r")" "4xx or close, never a crash; health on time"
fi

# 3. Consistency under load.
r=$(run_test consistency consistency)
row "~5,000 req/s of mixed health GETs during a storm of drain/close-lb/reopen/close/fault (10 s)" \
    "apps/hc/tests/consistency.rs" "$(passed consistency)" "$(held "$r")" "$(figure consistency '^consistency:')"

# 4. Access.
if [ $ci = 0 ]; then
  r=$(run_test access reliability_access)
  row "POST drain/close-lb/close/reopen/fault on a pod's public hc port during a real run; HAProxy admin socket mode; secrets, \$HOME and temp paths in a run folder" \
      "harness/tests/it/reliability_access.rs; apps/hc/tests/listeners.rs admin_split_serves_posts_only_on_admin (existing)" \
      "$(passed access)" "$(held "$r")" "$(figure access '^scanned')"
  r=$(run_test hc_listeners listeners admin_split)
  row "HC_ADMIN_ADDR set: transitions on the public listener" "apps/hc/tests/listeners.rs admin_split_serves_posts_only_on_admin" \
      "$(passed hc_listeners)" "$(held "$r")" "404 on public, 200 on admin"

  r=$(run_test docker docker reliability::)
  row "Docker runtime: privileges of a container the product started" \
      "harness/tests/docker/reliability.rs (\`docker inspect\`, /proc/1/status inside)" "$(passed docker)" "$(held "$r")" \
      "$(figure docker '^docker container')"

  # 5. Disk trouble.
  r=$(run_test disk reliability_disk)
  row "Artifacts folder read-only from the start; run folder read-only mid-run; RLIMIT_FSIZE 16 KiB on a run; RLIMIT_FSIZE 4 KiB on \`harness report\`" \
      "harness/tests/it/reliability_disk.rs (setpriv without CAP_DAC_OVERRIDE, prlimit)" "$(passed disk)" "$(held "$r")" \
      "$(figure disk '^RLIMIT_FSIZE 16384')"

  # Existing interrupt tests of the runtime.
  r=$(run_test e2e_sigint e2e sigint_mid_run)
  row "SIGINT mid-run (ports, /dev/shm, summary)" "harness/tests/it/e2e.rs sigint_mid_run_tears_everything_down_and_marks_the_summary (existing)" \
      "$(passed e2e_sigint)" "$(held "$r")" "-"
  r=$(run_test runtime_local runtime_local ctrl_c a_panic gc_sweeps)
  row "Ctrl-C, panic, SIGKILL + gc of the local runtime" "harness/tests/it/runtime_local.rs (existing)" \
      "$(passed runtime_local)" "$(held "$r")" "-"
fi

took=$(( $(date +%s) - t0 ))
[ -e "$work/FAILED" ] && failed=1
mkdir -p "$(dirname "$out")"
{
  cat <<EOF
# Reliability and security of the tool itself

Produced by \`scripts/reliability.sh$([ $ci = 1 ] && echo " --ci")\` on $(date -u +%Y-%m-%dT%H:%MZ) in ${took} s
($(nproc) cores, HAProxy $(haproxy -v 2>/dev/null | head -1 | awk '{print $3}'), Envoy at \`$ENVOY_BIN\`).
Every row is a test that does the damage for real (real processes, signals,
sockets and files on loopback); "held" means the test's promise held, "lost N"
counts what leaked or could not be read. Rerun: \`scripts/reliability.sh\`
(full) or \`scripts/reliability.sh --ci\` (bounded subset, < 3 minutes).
CI (\`.ci/run\`) runs every test named below through the test command
(\`scripts/test.sh\`), the interrupt loop with its default bound (4 tries, one
per phase); on the docker runtime, \`harness/tests/docker/e2e.rs\` interrupts a
docker run mid-load (containers and network gone, summary \`interrupted\`) and
\`harness/tests/docker/interrupt.rs\` checks the interrupt sweep.

| fault / hostile input | test | tries | result | figures |
|---|---|---|---|---|
EOF
  cat "$rows"
  cat <<EOF

## Interrupts, by signal and moment

Each try runs \`harness scenario tests/fixtures/interrupt.toml --mode graceful
--runtime local\` (2 pods, a 4 s request across a drain, ~12 s) and sends
the signal after a random delay aimed at a phase; "landed in" is the phase
the harness's own progress lines say it was in. After SIGINT/SIGTERM: no
process of the run (found by \`GRACEFUL_LAB_OWNER\` in \`/proc/*/environ\`)
within 3 s, every pod port and the frontend free, summary.json parses and
says \`interrupted\` (or the run had already completed), every CSV reads and
holds as many requests as summary.json counts, no \`.part\` left. After
SIGKILL: \`harness gc\` ends the orphans, then \`harness report\` rebuilds
summary.json (interrupted, counts from the rows), report.html and the plots
from what is on disk.

$interrupt_table
EOF
} >"$out"
echo "wrote $out (${took} s)" >&2
exit $failed
