#!/usr/bin/env bash
# Builds every Lambda function as an arm64 (Graviton) zip with cargo-lambda:
# target/lambda/<function>/bootstrap.zip. Installs cargo-lambda and zig into the
# project venv, the aarch64 target and Debian's advancecomp on first use; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/functions.sh

venv=$(realpath -m "${SKEIN_VENV:-.venv}")
requirements=scripts/requirements-package.txt
stamp="$venv/.package-requirements.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/cargo-lambda" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" > "$stamp"
fi
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
fi

# advzip recompresses each zip with 7-Zip's deflate encoder: the same zip format Lambda
# reads, about 4% smaller than cargo-lambda's, so less to download at every cold start.
bash scripts/apt-install.sh advzip=advancecomp

packages=()
for function in "${FUNCTIONS[@]}"; do packages+=(--package "$function"); done
PATH="$venv/bin:$PATH" cargo lambda build --profile function --arm64 --output-format zip "${packages[@]}"

echo "function          zip bytes"
for function in "${FUNCTIONS[@]}"; do
    zip="${CARGO_TARGET_DIR:-target}/lambda/$function/bootstrap.zip"
    advzip --recompress -3 --quiet "$zip"
    printf '%-17s %s\n' "$function" "$(stat -c %s "$zip")"
done
