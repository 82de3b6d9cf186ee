#!/usr/bin/env bash
# Benchmark (prints, asserts nothing): the artifacts at scale. For each row
# count in ROWS it writes a made-up run folder (`harness synth-requests`:
# steady load at 2,000 req/s over two pods, DISRUPTIONS disrupted requests
# around a termination in the middle, timeline, samples and summary.json to
# match), then measures with /usr/bin/time -v:
#   report      `harness report DIR` on the finished run: streams
#               requests.csv once and rewrites latency.hgrm, plot.svg/png,
#               report.html and junit.xml
#   compare     `harness compare DIR DIR` on the same folder as a killed run
#               (requests.csv renamed to requests.csv.part, so both sides
#               recount it from the rows: two streaming passes)
# and prints one table: wall s, peak RSS MiB (the process's max RSS), the
# ratios against the first row count (time per row should stay flat: linear
# in rows), and the sizes of plot.svg, plot.png and report.html.
# With CHECK=1 (and Chromium installed) it also runs scripts/report-check.sh
# on the largest folder's report.html with REPORT_RENDER_BUDGET_S=1 (fails
# when Chromium takes more than 1 s to render it beyond a blank page).
#
# Usage: scripts/bench-artifacts.sh
# Settings: ROWS ("100000 1000000 5000000"), DISRUPTIONS (20), WORK (a temp
# dir, removed at the end unless KEEP=1), LAB_NO_BUILD=1 to skip the
# release build, HARNESS_BIN (default: target/release/harness under
# CARGO_TARGET_DIR or ./target), CHECK=1.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ROWS="${ROWS:-100000 1000000 5000000}"
DISRUPTIONS="${DISRUPTIONS:-20}"
if [ "${LAB_NO_BUILD:-}" != 1 ]; then
  echo "building (release)" >&2
  cargo build --release -q -p harness --bin harness
fi
HARNESS="${HARNESS_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/harness}"
[ -x "$HARNESS" ] || { echo "no harness binary at $HARNESS" >&2; exit 2; }
WORK="${WORK:-$(mktemp -d /tmp/bench-artifacts.XXXXXX)}"
mkdir -p "$WORK"
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$WORK"' EXIT

# measure LABEL CMD...: runs CMD under /usr/bin/time -v; sets WALL and RSS_MIB.
measure() {
  local label="$1"; shift
  local out="$WORK/time-$label.txt"
  /usr/bin/time -v -o "$out" "$@" >/dev/null
  RSS_MIB=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$out")
  WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {
    n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$out")
}

kib() { [ -f "$1" ] && echo $(( $(stat -c %s "$1") / 1024 )) || echo -; }

TABLE="$WORK/table.txt"
printf '%-8s %10s %8s %8s %9s %10s %8s %8s %8s %9s %9s %10s\n' \
  verb rows "csv MiB" "wall s" "RSS MiB" "us/row" "x rows" "x wall" "x RSS" "svg KiB" "png KiB" "html KiB" >"$TABLE"
declare -A BASE_WALL BASE_RSS BASE_ROWS
largest=""
for n in $ROWS; do
  dir="$WORK/run-$n"
  echo "generating $n rows" >&2
  "$HARNESS" synth-requests "$dir" --rows "$n" --disruptions "$DISRUPTIONS" >&2
  csv_mib=$(awk -v b="$(stat -c %s "$dir/requests.csv")" 'BEGIN { printf "%.0f", b / 1048576 }')
  for verb in report compare; do
    echo "$verb: $n rows" >&2
    if [ "$verb" = report ]; then
      measure "$verb-$n" "$HARNESS" report "$dir"
    else
      mv "$dir/requests.csv" "$dir/requests.csv.part"
      measure "$verb-$n" "$HARNESS" compare "$dir" "$dir"
      mv "$dir/requests.csv.part" "$dir/requests.csv"
    fi
    if [ -z "${BASE_WALL[$verb]:-}" ]; then
      BASE_WALL[$verb]=$WALL; BASE_RSS[$verb]=$RSS_MIB; BASE_ROWS[$verb]=$n
    fi
    awk -v verb="$verb" -v n="$n" -v csv="$csv_mib" -v w="$WALL" -v r="$RSS_MIB" \
        -v bw="${BASE_WALL[$verb]}" -v br="${BASE_RSS[$verb]}" -v bn="${BASE_ROWS[$verb]}" \
        -v svg="$(kib "$dir/plot.svg")" -v png="$(kib "$dir/plot.png")" -v html="$(kib "$dir/report.html")" \
        'BEGIN { printf "%-8s %10d %8s %8.2f %9.1f %10.2f %8.1f %8.2f %8.2f %9s %9s %10s\n",
                 verb, n, csv, w, r, w * 1e6 / n, n / bn, (bw > 0 ? w / bw : 0), (br > 0 ? r / br : 0),
                 svg, png, html }' >>"$TABLE"
  done
  largest="$dir"
done

echo
echo "artifacts at scale ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "goal: peak RSS < 150 MiB and time linear in rows at 5e6 rows; plot.svg < 2 MiB at 1e6"
cat "$TABLE"

if [ "${CHECK:-}" = 1 ] && [ -n "$largest" ]; then
  start=$(date +%s.%N)
  REPORT_RENDER_BUDGET_S="${REPORT_RENDER_BUDGET_S:-1}" scripts/report-check.sh "$largest" "$WORK/report.png"
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "report-check on the largest folder: %.2f s (two Chromium loads)\n", e - s }'
fi
