#!/usr/bin/env bash
# Installs what the build and the checks need: toolchain components, the wasm32 target,
# and Python tools in a project-local venv. Safe to run again; skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

installed_components=$(rustup component list --installed 2>/dev/null || true)
for component in rustfmt clippy; do
    if ! grep -q "^${component}" <<<"$installed_components"; then
        rustup component add "$component"
    fi
done
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

# Python tools live in $SKEIN_VENV (default ./.venv), reinstalled only when the pinned
# requirements change.
venv=${SKEIN_VENV:-.venv}
requirements=scripts/requirements-dev.txt
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" > "$stamp"
fi
