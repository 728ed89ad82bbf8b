#!/usr/bin/env bash
# Every check and test, from a clean clone on a brand-new machine. Installs what it needs
# (idempotent: a second run skips what is there). `make test` and `.ci/run` call this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: rustfmt, clippy and the wasm32 target"
bash scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "skein-core builds for wasm32-unknown-unknown (the edge Worker)"
cargo check -p skein-core --target wasm32-unknown-unknown --locked

step "cargo test: unit, adapter contract and end-to-end tests"
# cargo prints one summary per test binary (the last is often an empty doc-test run);
# close with the total so the run's result reads in one line.
cargo test --workspace --locked 2>&1 | tee /dev/stderr \
    | awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }'
