#!/usr/bin/env bash
# Builds the edge Worker (functions/edge) into functions/edge/build with worker-build,
# using the wasm-bindgen and wasm-opt that scripts/setup.sh installs (never downloads).
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(realpath -m "${SKEIN_CARGO_TOOLS:-.tools/cargo}")
node_tools=$(realpath -m "${SKEIN_NODE_TOOLS:-.tools/node}")
export WASM_BINDGEN_BIN="$tools/bin/wasm-bindgen"
export WASM_OPT_BIN="$node_tools/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$node_tools/node_modules/.bin/esbuild"
# A Worker is downloaded to every colo and starts per isolate: optimise for size, and
# keep the wasm sections wasm-bindgen reads (wasm-opt strips what is left).
export CARGO_PROFILE_RELEASE_OPT_LEVEL=s
export CARGO_PROFILE_RELEASE_STRIP=none
cd functions/edge
exec "$tools/bin/worker-build" --release "$@"
