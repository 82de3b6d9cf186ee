#!/usr/bin/env bash
# Checks a run's report.html in real headless Chromium:
#   - the page loads with no console message at all (the page has no script,
#     so anything on the console is an error) and refers to nothing on the
#     network;
#   - the verdict is on the page, and so is every disrupted request of
#     summary.json with its attributed cause (or "No request was disrupted");
#   - a screenshot is produced (default <run-dir>/report.png);
#   - the page stays light at any run size: report.html at most
#     REPORT_MAX_BYTES (default 4000000) and the DOM Chromium built at most
#     REPORT_MAX_ELEMENTS elements (default 60000); the plot is a band, not a
#     point per request. It prints the render time (the screenshot's time
#     minus a blank page's, same flags) and, only when REPORT_RENDER_BUDGET_S
#     is set (the benchmark sets 1), fails above it: timing is not a CI gate.
# Usage: scripts/report-check.sh <run-dir> [screenshot.png]
# Chromium: $CHROMIUM, else `chromium`, else `chromium-browser` (Debian: apt-get install chromium).
set -euo pipefail

die() { echo "report-check: FAIL: $*" >&2; exit 1; }

[ $# -ge 1 ] || { echo "usage: $0 <run-dir> [screenshot.png]" >&2; exit 2; }
run_dir=$(cd "$1" && pwd) || die "no run folder $1"
shot=${2:-$run_dir/report.png}
report=$run_dir/report.html
[ -s "$report" ] || die "$report is missing or empty (rebuild it: harness report $run_dir)"
[ -s "$run_dir/summary.json" ] || die "$run_dir/summary.json is missing"

chrome=${CHROMIUM:-}
if [ -z "$chrome" ]; then
  for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1; then chrome=$c; break; fi
  done
fi
[ -n "$chrome" ] || die "Chromium not found: apt-get install -y chromium (or set CHROMIUM=/path/to/chromium)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--headless --disable-gpu --no-sandbox --no-first-run --user-data-dir="$work/profile"
       --enable-logging=stderr --v=0)
url="file://$report"

# 1. The DOM as Chromium built it, and every console message while loading.
timeout 120 "$chrome" "${flags[@]}" --dump-dom "$url" >"$work/dom.html" 2>"$work/dom.err" \
  || die "chromium --dump-dom failed (exit $?): $(tail -n 5 "$work/dom.err")"
# 2. The screenshot, timed against a blank page's (Chromium's own start).
mkdir -p "$(dirname "$shot")"
rm -f "$shot"
shoot() { # shoot URL PNG LOG: one headless screenshot
  timeout 120 "$chrome" "${flags[@]}" --hide-scrollbars --window-size=1400,3000 \
    --screenshot="$2" "$1" >"$3.out" 2>"$3.err"
}
printf '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>blank</title></head><body>blank</body></html>\n' >"$work/blank.html"
shoot "file://$work/blank.html" "$work/blank.png" "$work/blank" \
  || die "chromium --screenshot of a blank page failed (exit $?): $(tail -n 5 "$work/blank.err")"
t_blank=$(awk '{print $1}' /proc/uptime)
shoot "file://$work/blank.html" "$work/blank.png" "$work/blank" || true
t0=$(awk '{print $1}' /proc/uptime)
shoot "$url" "$shot" "$work/shot" \
  || die "chromium --screenshot failed (exit $?): $(tail -n 5 "$work/shot.err")"
t1=$(awk '{print $1}' /proc/uptime)
render_s=$(awk -v b0="$t_blank" -v b1="$t0" -v p1="$t1" 'BEGIN { printf "%.2f", (p1 - b1) - (b1 - b0) }')

if grep -h 'CONSOLE' "$work/dom.err" "$work/shot.err" >"$work/console.txt"; then
  cat "$work/console.txt" >&2
  die "the page wrote to the console (above)"
fi
[ -s "$shot" ] || die "no screenshot at $shot"
[ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || die "$shot is not a PNG"

echo "report-check: render ${render_s} s (screenshot minus a blank page's)"
python3 - "$work/dom.html" "$run_dir/summary.json" "$report" \
  "${REPORT_MAX_BYTES:-4000000}" "${REPORT_MAX_ELEMENTS:-60000}" <<'PY'
import html, json, os, re, sys
dom_path, summary_path, report_path = sys.argv[1:4]
max_bytes, max_elements = int(sys.argv[4]), int(sys.argv[5])
dom = open(dom_path, encoding="utf-8").read()
raw = open(report_path, encoding="utf-8").read()
s = json.load(open(summary_path, encoding="utf-8"))
fail = []
if len(dom) < 1000 or "<body" not in dom:
    fail.append(f"the DOM Chromium built is {len(dom)} bytes: the page did not load")
size = os.path.getsize(report_path)
elements = len(re.findall(r"<[A-Za-z]", dom))
if size > max_bytes:
    fail.append(f"report.html is {size} bytes, more than {max_bytes}: something on the page grows with the requests")
if elements > max_elements:
    fail.append(f"the page has {elements} elements, more than {max_elements}: something on it grows with the requests")
# Text as a reader sees it: tags out, entities decoded, whitespace folded.
text = re.sub(r"<svg.*?</svg>", " ", dom, flags=re.S)
text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())
for m in re.finditer(r'(?:src|href)\s*=\s*"(?:https?:)?//', raw):
    fail.append(f"the page refers to the network: {raw[m.start():m.start()+80]!r}")
verdict = s.get("verdict", "").upper()
if verdict not in text:
    fail.append(f"verdict {verdict} is not on the page")
atts = s.get("attributions", [])
if s.get("disruptions", 0) == 0:
    if "No request was disrupted" not in text:
        fail.append("0 disruptions, but the page does not say 'No request was disrupted'")
for a in atts:
    rid = a["request_id"]
    cause = " ".join((a.get("cause") or "no cause found on the timeline").split())
    if rid not in text:
        fail.append(f"disrupted request {rid} is not on the page")
    if cause not in text:
        fail.append(f"the cause of {rid} ({cause!r}) is not on the page")
if s.get("disruptions", 0) > 0 and not atts and "disrupted" not in text:
    fail.append("the run has disruptions but the page does not say so")
for f in fail:
    print("report-check: FAIL:", f, file=sys.stderr)
if fail:
    sys.exit(1)
print(f"report-check: ok: verdict {verdict}, {len(atts)} disruption(s) with their causes on the page, {size} bytes, {elements} elements")
PY
if [ -n "${REPORT_RENDER_BUDGET_S:-}" ]; then
  awk -v r="$render_s" -v b="$REPORT_RENDER_BUDGET_S" 'BEGIN { exit !(r <= b) }' \
    || die "rendering took ${render_s} s, more than REPORT_RENDER_BUDGET_S=${REPORT_RENDER_BUDGET_S}"
fi
echo "report-check: screenshot $shot"
