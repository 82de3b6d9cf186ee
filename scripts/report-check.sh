#!/usr/bin/env bash
# Checks a run's report.html in real headless Chromium:
#   - the page loads with no console message at all (the page has no script,
#     so anything on the console is an error) and refers to nothing on the
#     network;
#   - the verdict is on the page, and so is every disrupted request of
#     summary.json with its attributed cause (or "No request was disrupted");
#   - a screenshot is produced (default <run-dir>/report.png).
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
# 2. The screenshot.
mkdir -p "$(dirname "$shot")"
rm -f "$shot"
timeout 120 "$chrome" "${flags[@]}" --hide-scrollbars --window-size=1400,3000 \
  --screenshot="$shot" "$url" >"$work/shot.out" 2>"$work/shot.err" \
  || die "chromium --screenshot failed (exit $?): $(tail -n 5 "$work/shot.err")"

if grep -h 'CONSOLE' "$work/dom.err" "$work/shot.err" >"$work/console.txt"; then
  cat "$work/console.txt" >&2
  die "the page wrote to the console (above)"
fi
[ -s "$shot" ] || die "no screenshot at $shot"
[ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || die "$shot is not a PNG"

python3 - "$work/dom.html" "$run_dir/summary.json" "$report" <<'PY'
import html, json, re, sys
dom_path, summary_path, report_path = sys.argv[1:4]
dom = open(dom_path, encoding="utf-8").read()
raw = open(report_path, encoding="utf-8").read()
s = json.load(open(summary_path, encoding="utf-8"))
fail = []
if len(dom) < 1000 or "<body" not in dom:
    fail.append(f"the DOM Chromium built is {len(dom)} bytes: the page did not load")
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
print(f"report-check: ok: verdict {verdict}, {len(atts)} disruption(s) with their causes on the page")
PY
echo "report-check: screenshot $shot"
