#!/bin/sh
# The test command: makes sure a real Envoy and HAProxy are at hand
# (scripts/get-tools.sh), then runs every test of the workspace in release
# (one build profile for tests, the harness and CI).
set -eu
cd "$(dirname "$0")/.."
eval "$(scripts/get-tools.sh | sed 's/^/export /')"
exec cargo nextest run --workspace --release --no-fail-fast "$@"
