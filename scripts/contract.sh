#!/usr/bin/env bash
# The API contract: schemathesis with every check against a fresh `skein dev`, driven by
# the server's own /v1/openapi.json. Fails on any contract failure or 5xx. The seed is
# fixed so that CI is repeatable; SKEIN_CONTRACT_SEED=random (or a number) explores.
set -euo pipefail
cd "$(dirname "$0")/.."

st="${SKEIN_VENV:-.venv}-contract/bin/st"
[ -x "$st" ] || { echo "schemathesis is missing: run bash scripts/setup.sh" >&2; exit 1; }
cargo build --quiet --locked -p skein-cli
skein="${CARGO_TARGET_DIR:-target}/debug/skein"

scratch=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$scratch"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Thousands of requests from one address: the per-source limit would answer most with 429.
env -u SKEIN_JWT_SECRET SKEIN_DATA_DIR="$scratch/data" SKEIN_RATE_SOURCE=off \
    "$skein" dev --addr "127.0.0.1:$port" > "$scratch/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/v1/health" > /dev/null && break
    sleep 0.1
done

# An admin token minted with the server's key for an admin that is no stored client: the
# stateful phase rotates and deletes the clients it finds, and must not revoke the very
# credential it tests with.
mkdir -p "$scratch/minting"
cp "$scratch/data/jwt-secret" "$scratch/minting/"
token=$(SKEIN_DATA_DIR="$scratch/minting" "$skein" token --admin --ttl 3600)

seed=${SKEIN_CONTRACT_SEED:-20261202}
seed_args=(--seed "$seed")
[ "$seed" = random ] && seed_args=()
status=0
"$st" --config-file scripts/schemathesis/schemathesis.toml run \
    "http://127.0.0.1:$port/v1/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks all --max-examples 30 "${seed_args[@]}" --no-color || status=$?
if grep -q "panicked" "$scratch/server.log"; then
    echo "the server panicked during the contract run:" >&2
    grep -A5 "panicked" "$scratch/server.log" >&2
    status=1
fi
exit "$status"
