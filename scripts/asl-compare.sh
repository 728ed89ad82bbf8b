#!/usr/bin/env bash
# Runs the same definitions on npm aws-local-stepfunctions and on skein-asl, in one go, and
# prints the time per execution of each and the ratio. Both run in-process (no process
# start per execution), after a warm-up. Usage: scripts/asl-compare.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-200}
bash scripts/setup.sh >/dev/null
cargo build --release --quiet --locked -p skein-cli
skein=${CARGO_TARGET_DIR:-target}/release/skein
definitions=(shared/asl/benches/compare/*.asl.json)

node_results=$(node scripts/node-tools/compare.mjs "$iterations" "${definitions[@]}")
printf '%-24s %16s %16s %8s\n' definition "aws-local-sfn" "skein-asl" ratio
for definition in "${definitions[@]}"; do
    input="@${definition%.asl.json}.input.json"
    skein_us=$("$skein" asl bench "$definition" --input "$input" --iterations "$iterations" | python3 -c 'import json,sys; print(json.load(sys.stdin)["per_execution_us"])')
    node_us=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]]["per_execution_us"])' "$node_results" "$definition")
    python3 - "$definition" "$node_us" "$skein_us" <<'PY'
import os, sys
name, node, skein = os.path.basename(sys.argv[1]).removesuffix(".asl.json"), float(sys.argv[2]), float(sys.argv[3])
print(f"{name:<24} {node:>13.1f} us {skein:>13.1f} us {node / skein:>7.1f}x")
PY
done
