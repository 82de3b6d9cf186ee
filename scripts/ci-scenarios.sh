#!/bin/sh
# The CI subset of the scenario catalogue: a few fast, robust scenarios that
# each prove one mechanism against the real HAProxy/Envoy (see README,
# "Scenarios in CI"). Extra arguments go to `harness scenario all`.
# Pods live on 127.0.<LAB_POD_NET>.N (default 60 here, away from the e2e tests').
set -eu
cd "$(dirname "$0")/.."
eval "$(scripts/get-tools.sh | sed 's/^/export /')"
cargo build --release -p harness
export LAB_POD_NET="${LAB_POD_NET:-60}"
exec ./target/release/harness scenario all --only "${CI_SCENARIOS:-s5,s2,s12,s15}" "$@"
