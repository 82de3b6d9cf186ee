#!/usr/bin/env bash
# Runs the CI gate (scripts/gate.sh: s1, every mode, judged by `harness
# gate`) N times on one runtime and prints one table of every run: mode,
# verdict, requests, disruptions, how many disruptions the proxies' own log
# lines explain (both / HAProxy only / Envoy only) and how many are inferred
# or unexplained, and the wall time. The evidence for "10/10" in issue 15.
#
#   scripts/s1-repeat.sh 10 local      # or docker
#
# Each round is judged on its own (gate.sh's marker); the script exits
# non-zero when any round's gate failed, after printing the whole table.
# Run folders go to $LAB_ARTIFACTS (default: a fresh artifacts/repeat-<UTC>).
set -uo pipefail
cd "$(dirname "$0")/.."
n="${1:?usage: s1-repeat.sh N local|docker}"
runtime="${2:?usage: s1-repeat.sh N local|docker}"
case "$runtime" in local|docker) ;; *) echo "s1-repeat: runtime must be local or docker, not $runtime" >&2; exit 2 ;; esac
export LAB_ARTIFACTS="${LAB_ARTIFACTS:-$PWD/artifacts/repeat-$(date -u +%Y%m%dT%H%M%SZ)-$runtime}"
export GATE_RUNTIME="$runtime"
mkdir -p "$LAB_ARTIFACTS"
failed=0
for i in $(seq 1 "$n"); do
  t0=$(date +%s)
  if scripts/gate.sh > "$LAB_ARTIFACTS/gate-$i.log" 2>&1; then r=PASS; else r=FAIL; failed=$((failed + 1)); fi
  echo "round $i/$n on $runtime: gate $r in $(( $(date +%s) - t0 )) s (log: $LAB_ARTIFACTS/gate-$i.log)"
done
python3 - "$LAB_ARTIFACTS" <<'EOF'
import collections, json, pathlib, sys
root = pathlib.Path(sys.argv[1])
rows = []
for f in sorted(root.glob("*/summary.json")):
    s = json.loads(f.read_text())
    ev = collections.Counter(a.get("evidence", "inferred") for a in s.get("attributions", []))
    rows.append((s["mode"], s["verdict"], s["requests"], s["disruptions"], ev, s.get("wall_s") or 0.0, f.parent.name))
print(f"{'mode':<14} {'verdict':<8} {'requests':>9} {'lost':>6} {'both':>5} {'hap':>4} {'env':>4} {'infer':>5} {'none':>4} {'wall s':>7}  run")
for m, v, req, d, ev, w, name in rows:
    print(f"{m:<14} {v:<8} {req:>9} {d:>6} {ev['both']:>5} {ev['haproxy_log']:>4} {ev['envoy_log']:>4} {ev['inferred']:>5} {ev['none']:>4} {w:>7.1f}  {name}")
by = collections.defaultdict(list)
for m, v, req, d, ev, w, _ in rows:
    by[m].append((v, d, req))
for m, xs in sorted(by.items()):
    passes = sum(1 for v, _, _ in xs if v == "pass")
    lost = [d for _, d, _ in xs]
    print(f"{m}: {passes}/{len(xs)} pass, lost min {min(lost)} max {max(lost)} of {xs[0][2]} requests")
# Wall time against the lower bound (issue 15: s1 <= 1.15 x): a mode cannot
# end before its coverage window does (load start -> the terminated pod's
# last exit or the LB's settled view, plus one check interval: `coverage` in
# summary.json); everything above that (starting the topology, the load's
# margin past that end, teardown, artifacts) is overhead. One round = the
# runs of one gate.sh call (its modes, in mode order).
runs = []
for f in sorted(root.glob("*/summary.json")):
    s = json.loads(f.read_text())
    c = s.get("coverage") or {}
    if c.get("required_end_ms") is None or c.get("load_start_ms") is None:
        continue
    runs.append((s["mode"], (s.get("wall_s") or 0.0), (c["required_end_ms"] - c["load_start_ms"]) / 1000, s["verdict"]))
modes = list(dict.fromkeys(r[0] for r in runs))
ratios = []
for i in range(0, len(runs) - len(modes) + 1, max(1, len(modes))):
    g = runs[i:i + len(modes)]
    if [r[0] for r in g] != modes:
        continue
    w, need = sum(x[1] for x in g), sum(x[2] for x in g)
    valid = all(x[3] == "pass" for x in g)
    if valid:
        ratios.append(w / need)
    print(f"round {i // len(modes) + 1}: wall {w:.1f} s, lower bound {need:.1f} s, ratio {w / need:.3f}"
          + ("" if valid else " (not every run passed: left out below)") + " ("
          + ", ".join(f"{m} {x:.1f}/{n:.1f}" for m, x, n, _ in g) + ")")
if ratios:
    print(f"wall / lower bound over the {len(ratios)} rounds where every run passed: "
          f"min {min(ratios):.3f} median {sorted(ratios)[len(ratios) // 2]:.3f} max {max(ratios):.3f}")
EOF
[ "$failed" -eq 0 ]
