#!/usr/bin/env bash
# Installs what the build and the checks need: toolchain components, the wasm32 target,
# chromium for the console's browser tests, the edge Worker's build tools, Node tools, and
# Python tools in project-local folders.
# Safe to run again; skips what is there.
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

# The console's browser tests drive Debian's chromium through playwright-core (which must
# never download a browser of its own). Installed once with apt.
bash scripts/apt-install.sh chromium=chromium

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

# The edge Worker's build tools live in $SKEIN_CARGO_TOOLS (default ./.tools/cargo):
# worker-build at the version of the `worker` crate, and the wasm-bindgen CLI at the
# version of `wasm-bindgen` in Cargo.lock (they must match). Each is built once per
# version, ~13 minutes together on a fresh machine.
cargo_tools=${SKEIN_CARGO_TOOLS:-.tools/cargo}
locked_version() {
    grep -A1 "^name = \"$1\"$" Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p'
}
install_cargo_tool() { # crate version binary [cargo install flags...]
    local crate=$1 version=$2 binary=$3
    shift 3
    if "$cargo_tools/bin/$binary" --version 2>/dev/null | grep -qw "$version"; then
        return
    fi
    env -u CARGO_TARGET_DIR cargo install --quiet --root "$cargo_tools" "$crate" \
        --version "=$version" --force "$@"
}
# wasm-bindgen-cli without --locked: one version its lockfile pins is gone from the registry.
install_cargo_tool wasm-bindgen-cli "$(locked_version wasm-bindgen)" wasm-bindgen
install_cargo_tool worker-build "$(locked_version worker)" worker-build --locked

# Python tools live in venvs, each reinstalled only when its pinned requirements change.
python_venv() { # folder requirements-file
    local folder=$1 requirements=$2 wanted
    wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [ ! -x "$folder/bin/python" ] || [ "$(cat "$folder/.requirements.sha256" 2>/dev/null)" != "$wanted" ]; then
        python3 -m venv "$folder"
        "$folder/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
        echo "$wanted" > "$folder/.requirements.sha256"
    fi
}
venv=${SKEIN_VENV:-.venv}
# moto, the OpenAPI validator and the test helpers.
python_venv "$venv" scripts/requirements-dev.txt
# The API contract checker (schemathesis), apart: its hypothesis and jsonschema pins are its own.
python_venv "${venv}-contract" scripts/requirements-contract.txt
# The deploy templates' validators (checkov, cfn-lint, parliament), apart: checkov pins an
# older boto3 than moto wants.
python_venv "${venv}-infra" scripts/requirements-infra.txt
# The AWS CLI, which drives `skein asl serve` in its test.
python_venv "${venv}-awscli" scripts/requirements-awscli.txt
