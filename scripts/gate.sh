#!/bin/sh
# The CI gate (DESIGN §3.8): runs every mode of s1 and fails when graceful
# shows any disruption, when current shows none (a harness that sees no
# resets where there must be some is broken), when any run is `invalid` or
# `interrupted`, or when the harness itself exits non-zero. seed-graceful
# (the seed's order) is run and reported, not gated at zero. The judgement
# is `harness gate`, which reads the runs' summary.json files (tested in
# harness/tests/it/gate.rs).
set -eu
cd "$(dirname "$0")/.."
root="${LAB_ARTIFACTS:-$PWD/artifacts}"
# The runtime the gate runs on: local (default) or docker (`GATE_RUNTIME=docker`).
runtime="${GATE_RUNTIME:-local}"
# The scenario the gate runs (tests point it at a short fixture).
scenario="${GATE_SCENARIO:-s1}"
mkdir -p "$root"
marker="$root/.gate-start-$$"
touch "$marker"
trap 'rm -f "$marker"' EXIT
# HARNESS_BIN (CI: the binary the test build made, with LAB_NO_BUILD=1 for
# the apps) avoids a second build; by default the README's cargo run.
harness() {
  if [ -n "${HARNESS_BIN:-}" ]; then
    "$HARNESS_BIN" "$@"
  else
    cargo run --quiet -p harness -- "$@"
  fi
}
status=0
harness scenario "$scenario" --mode all --runtime "$runtime" --artifacts "$root" || status=$?
gate=0
harness gate --scenario "$(basename "$scenario" .toml)" --runtime "$runtime" --since "$marker" --artifacts "$root" || gate=$?
if [ "$status" -ne 0 ]; then
  echo "gate: FAIL: the harness exited $status"
fi
[ "$status" -eq 0 ] && [ "$gate" -eq 0 ]
