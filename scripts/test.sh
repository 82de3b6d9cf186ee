#!/bin/sh
# The test command: builds every test of the workspace (and with it the
# harness), lets the harness find or fetch HAProxy, Envoy, busybox, curl and
# kubernetes-validate (`harness tools --fetch`, the one provisioning
# implementation), then runs every test of the workspace with the
# workspace's one build profile (cargo's dev profile, optimised: the same
# build README's first command makes). LAB_TOOLS=fetch ignores tools on
# PATH; LAB_TOOLS_DIR moves the tools folder.
set -eu
cd "$(dirname "$0")/.."
cargo nextest run --workspace --no-run
tools_env=$("${CARGO_TARGET_DIR:-target}/debug/harness" tools --fetch --env)
while IFS= read -r line; do export "$line"; done <<EOT
$tools_env
EOT
exec cargo nextest run --workspace --no-fail-fast "$@"
