#!/usr/bin/env bash
# Runs the same definitions on npm aws-local-stepfunctions and on skein-asl, in one go, and
# prints the time per execution of each and the ratio. Both run in-process (no process
# start per execution), each definition in a process of its own (so one definition's JIT
# or heap state does not slow another's), after a warm-up, and report the median of ROUNDS
# rounds of ITERATIONS executions. Usage: scripts/asl-compare.sh [ITERATIONS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-200}
rounds=${2:-5}
bash scripts/setup.sh >/dev/null
cargo build --release --quiet --locked -p skein-cli
skein=${CARGO_TARGET_DIR:-target}/release/skein
definitions=(shared/asl/benches/compare/*.asl.json)

printf '%-24s %16s %16s %8s\n' definition "aws-local-sfn" "skein-asl" ratio
for definition in "${definitions[@]}"; do
    input="@${definition%.asl.json}.input.json"
    skein_us=$("$skein" asl bench "$definition" --input "$input" --iterations "$iterations" --rounds "$rounds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["per_execution_us"])')
    node_us=$(node scripts/node-tools/compare.mjs "$iterations" "$rounds" "$definition" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["per_execution_us"])' "$definition")
    python3 - "$definition" "$node_us" "$skein_us" <<'PY'
import os, sys
name, node, skein = os.path.basename(sys.argv[1]).removesuffix(".asl.json"), float(sys.argv[2]), float(sys.argv[3])
print(f"{name:<24} {node:>13.1f} us {skein:>13.1f} us {node / skein:>7.1f}x")
PY
done
