#!/usr/bin/env bash
# Runs the same definitions on npm aws-local-stepfunctions and on skein-asl, in one go, and
# prints the time per execution of each and the ratio. Both run in-process (no process
# start per execution), each definition in a process of its own (so one definition's JIT
# or heap state does not slow another's), after a warm-up, and report the median of ROUNDS
# rounds of ITERATIONS executions. Each definition is measured TRIALS times, the two sides
# taking turns, and each side's median trial is reported: this machine's speed drifts by a
# third between minutes, and taking turns keeps one side from being measured only in a
# fast minute and the other only in a slow one.
# Usage: scripts/asl-compare.sh [ITERATIONS] [ROUNDS] [TRIALS]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-200}
rounds=${2:-5}
trials=${3:-3}
bash scripts/setup.sh >/dev/null
cargo build --release --quiet --locked -p skein-cli
skein=${CARGO_TARGET_DIR:-target}/release/skein
definitions=(shared/asl/benches/compare/*.asl.json)

printf '%-24s %16s %16s %8s\n' definition "aws-local-sfn" "skein-asl" ratio
for definition in "${definitions[@]}"; do
    input="@${definition%.asl.json}.input.json"
    node_trials=()
    skein_trials=()
    for _ in $(seq "$trials"); do
        node_trials+=("$(node scripts/node-tools/compare.mjs "$iterations" "$rounds" "$definition" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["per_execution_us"])' "$definition")")
        skein_trials+=("$("$skein" asl bench "$definition" --input "$input" --iterations "$iterations" --rounds "$rounds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["per_execution_us"])')")
    done
    python3 - "$definition" "${node_trials[*]}" "${skein_trials[*]}" <<'PY'
import os, statistics, sys
name = os.path.basename(sys.argv[1]).removesuffix(".asl.json")
node = statistics.median(float(x) for x in sys.argv[2].split())
skein = statistics.median(float(x) for x in sys.argv[3].split())
print(f"{name:<24} {node:>13.1f} us {skein:>13.1f} us {node / skein:>7.1f}x")
PY
done
