#!/bin/sh
# The test command: builds every test of the workspace (and with it the
# harness), lets the harness find or fetch HAProxy, Envoy, busybox and curl
# (`harness tools --fetch`, the one provisioning implementation), then runs
# every test of the workspace in release (one build profile for tests, the
# harness and CI). LAB_TOOLS=fetch ignores tools on PATH; LAB_TOOLS_DIR moves
# the tools folder.
set -eu
cd "$(dirname "$0")/.."
cargo nextest run --workspace --release --no-run
tools_env=$("${CARGO_TARGET_DIR:-target}/release/harness" tools --fetch --env)
while IFS= read -r line; do export "$line"; done <<EOT
$tools_env
EOT
exec cargo nextest run --workspace --release --no-fail-fast "$@"
