#!/bin/sh
# The CI gate: runs s1 in both modes and fails when graceful shows any
# disruption, or when current shows none (a harness that sees no resets
# where there must be some is broken). Checked from summary.json, not only
# from the scenario file's own expectations.
set -eu
cd "$(dirname "$0")/.."
root="${LAB_ARTIFACTS:-$PWD/artifacts}"
# The runtime the gate runs on: local (default) or docker (`GATE_RUNTIME=docker`).
runtime="${GATE_RUNTIME:-local}"
mkdir -p "$root"
marker="$root/.gate-start"
touch "$marker"
status=0
# HARNESS_BIN (CI: the binary the test build made, with LAB_NO_BUILD=1 for
# the apps) avoids a second build; by default the README's cargo run.
if [ -n "${HARNESS_BIN:-}" ]; then
  "$HARNESS_BIN" scenario s1 --mode both --runtime "$runtime" --artifacts "$root" || status=$?
else
  cargo run --release -p harness -- scenario s1 --mode both --runtime "$runtime" --artifacts "$root" || status=$?
fi
python3 - "$root" "$marker" "$runtime" <<'PY'
import json, os, sys
root, marker, runtime = sys.argv[1], sys.argv[2], sys.argv[3]
since = os.path.getmtime(marker)
runs = {}
for d in sorted(os.listdir(root)):
    p = os.path.join(root, d, "summary.json")
    if d.endswith(("-s1-current", "-s1-graceful")) and os.path.isfile(p) and os.path.getmtime(p) >= since:
        runs[d.rsplit("-", 1)[1]] = json.load(open(p))
bad = []
if "current" not in runs or "graceful" not in runs:
    bad.append(f"missing run folders: found {sorted(runs)}")
else:
    c, g = runs["current"], runs["graceful"]
    print(f"gate ({runtime}): current disruptions={c['disruptions']} verdict={c['verdict']}; graceful disruptions={g['disruptions']} verdict={g['verdict']}")
    if g["disruptions"] != 0:
        bad.append(f"graceful lost {g['disruptions']} request(s): {[a.get('cause') for a in g['attributions']]}")
    if c["disruptions"] == 0:
        bad.append("current shows no disruption: the harness sees no reset where there must be one")
    for name, s in runs.items():
        if s.get("runtime") != runtime:
            bad.append(f"{name} ran on runtime {s.get('runtime')!r}, not {runtime!r}")
        if s.get("interrupted"):
            bad.append(f"{name} run was interrupted")
for b in bad:
    print("gate: FAIL:", b)
sys.exit(1 if bad else 0)
PY
gate=$?
rm -f "$marker"
[ "$status" -eq 0 ] && [ "$gate" -eq 0 ]
