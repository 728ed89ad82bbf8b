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

# Node tools (npm asl-validator, aws-local-stepfunctions) live in $SKEIN_NODE_TOOLS (default
# ./.tools/node), reinstalled only when the lockfile changes.
node_tools=${SKEIN_NODE_TOOLS:-.tools/node}
node_lock=scripts/node-tools/package-lock.json
node_wanted=$(sha256sum "$node_lock" | cut -d' ' -f1)
if [ "$(cat "$node_tools/.lock.sha256" 2>/dev/null)" != "$node_wanted" ]; then
    mkdir -p "$node_tools"
    cp scripts/node-tools/package.json "$node_lock" "$node_tools/"
    (cd "$node_tools" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$node_wanted" > "$node_tools/.lock.sha256"
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

# The deploy templates' validators (checkov, cfn-lint, parliament) live in their own venv,
# ${SKEIN_VENV:-.venv}-infra, reinstalled only when their pins change.
infra_venv="${venv}-infra"
infra_requirements=scripts/requirements-infra.txt
infra_stamp="$infra_venv/.requirements.sha256"
infra_wanted=$(sha256sum "$infra_requirements" | cut -d' ' -f1)
if [ ! -x "$infra_venv/bin/python" ] || [ "$(cat "$infra_stamp" 2>/dev/null)" != "$infra_wanted" ]; then
    python3 -m venv "$infra_venv"
    "$infra_venv/bin/pip" install --quiet --disable-pip-version-check -r "$infra_requirements"
    echo "$infra_wanted" > "$infra_stamp"
fi
