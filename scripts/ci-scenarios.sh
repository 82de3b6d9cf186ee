#!/bin/sh
# The CI subset of the scenario catalogue: a few fast, robust scenarios that
# each prove one mechanism against the real HAProxy/Envoy (see README,
# "Scenarios in CI"). Extra arguments go to `harness scenario all`.
# Pods live on 127.0.<LAB_POD_NET>.N (default 60 here, away from the e2e tests').
set -eu
cd "$(dirname "$0")/.."
eval "$(scripts/get-tools.sh | sed 's/^/export /')"
# HARNESS_BIN: a harness already built (CI: the test build's, with
# LAB_NO_BUILD=1 for the apps) instead of building one here.
if [ -z "${HARNESS_BIN:-}" ]; then
  cargo build -p harness
  HARNESS_BIN=./target/debug/harness
fi
export LAB_POD_NET="${LAB_POD_NET:-60}"
exec "$HARNESS_BIN" scenario all --runtime "${LAB_RUNTIME:-local}" --only "${CI_SCENARIOS:-s5,s2,s12,s15}" "$@"
