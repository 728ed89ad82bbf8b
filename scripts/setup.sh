#!/usr/bin/env bash
# Installs the toolchain pieces the build and tests need. Safe to run again.
set -euo pipefail

installed_components=$(rustup component list --installed 2>/dev/null || true)
for component in rustfmt clippy; do
    if ! grep -q "^${component}" <<<"$installed_components"; then
        rustup component add "$component"
    fi
done
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
