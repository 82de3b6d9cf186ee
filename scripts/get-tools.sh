#!/bin/sh
# Prints HAPROXY_BIN=/ENVOY_BIN=/BUSYBOX_BIN=/CURL_BIN=/KUBERNETES_VALIDATE_BIN= lines (fetching what is missing): a wrapper over
# `harness tools --fetch --env`, the one provisioning implementation (harness/src/tools.rs).
cd "$(dirname "$0")/.." && if [ -x "${HARNESS_BIN:-}" ]; then exec "$HARNESS_BIN" tools --fetch --env; else exec cargo run -q -p harness -- tools --fetch --env; fi
