#!/usr/bin/env bash
# The edge Worker against the origin it fronts, on this machine: a release `skein dev` and
# the Worker in workerd (`wrangler dev --local`), each its own process, driven by the same
# external clients (`skein bench api` and `skein bench events`). Prints the added latency,
# event delivery, the Worker's bundle and workerd's CPU per request. `make bench-edge`.
set -euo pipefail
# Job control: each background process gets a process group of its own, ended whole.
set -m
cd "$(dirname "$0")/.."
bash scripts/setup.sh > /dev/null
cargo build --release --quiet -p skein-cli
skein="${CARGO_TARGET_DIR:-target}/release/skein"
node_bin="$(realpath -m "${SKEIN_NODE_TOOLS:-.tools/node}")/node_modules/.bin"
seconds=${SECONDS_PER_PHASE:-10}
runs=${EVENT_RUNS:-30}
work=$(mktemp -d)
secret="bench-edge-0123456789abcdef0123456"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2> /dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

env SKEIN_DATA_DIR="$work/origin" SKEIN_ADDR=127.0.0.1:18080 SKEIN_JWT_SECRET="$secret" \
    SKEIN_RATE_SOURCE=off "$skein" dev > "$work/origin.log" 2>&1 &
pids+=($!)

start_edge() { # worker folder, principal and tenant rates ("off" for none)
    if curl -s -o /dev/null http://127.0.0.1:18787/; then
        echo "something already listens on 127.0.0.1:18787" >&2; exit 1
    fi
    local folder=$1
    shift
    env -C "$folder" PATH="$node_bin:$PATH" WRANGLER_SEND_METRICS=false \
        wrangler dev --local --ip 127.0.0.1 --port 18787 --persist-to "$work/edge-state" \
        --var SKEIN_ORIGIN_URL:http://127.0.0.1:18080 --var SKEIN_JWT_ALG:HS256 \
        --var "SKEIN_JWT_SECRET:$secret" --var "SKEIN_RATE_PRINCIPAL:$1" \
        --var "SKEIN_RATE_TENANT:$2" > "$work/edge.log" 2>&1 &
    edge_pid=$!
    pids+=("$edge_pid")
    for _ in $(seq 600); do
        curl -sf http://127.0.0.1:18787/v1/health > /dev/null && return
        sleep 0.2
    done
    echo "the edge did not start:" >&2; tail -20 "$work/edge.log" >&2; exit 1
}
stop_edge() {
    kill -TERM -- "-$edge_pid" 2> /dev/null || true
    while curl -s -o /dev/null http://127.0.0.1:18787/; do sleep 0.2; done
}
# CPU seconds (user + system) of every workerd process so far.
workerd_cpu() {
    local ticks=0
    for pid in $(pgrep -x workerd || true); do
        ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$ticks $(getconf CLK_TCK)"
}

for _ in $(seq 100); do curl -sf http://127.0.0.1:18080/v1/health > /dev/null && break; sleep 0.1; done
token=$(SKEIN_DATA_DIR="$work/origin" SKEIN_JWT_SECRET="$secret" SKEIN_URL=http://127.0.0.1:18080 "$skein" token --admin)

echo "== the Worker's bundle"
(cd functions/edge && PATH="$node_bin:$PATH" WRANGLER_SEND_METRICS=false \
    wrangler deploy --dry-run --outdir "$work/bundle" 2>&1 | grep "Total Upload")

bench_api() { # label address
    echo "== GET /v1/agents/{id} and task lifecycles, one connection: $1"
    "$skein" bench api --addr "$2" --token "$token" --connections 1 --agents 1 --duration "$seconds"
}

bench_api "origin directly" 127.0.0.1:18080
for worker in "scripts/bench-edge off off" "functions/edge off off" "functions/edge 100000/s 1000000/s"; do
    read -r folder limits <<< "$worker"
    start_edge $worker
    case $folder in
        functions/edge) label="through the edge (rate limits: $limits)" ;;
        *) label="through a bare forwarding Worker (the baseline of wrangler dev)" ;;
    esac
    read -r before hz < <(workerd_cpu)
    bench_api "$label" 127.0.0.1:18787 | tee "$work/edge-bench.txt"
    read -r after _ < <(workerd_cpu)
    # A task lifecycle is three requests (create, claim, complete).
    requests=$(awk '$1 == "GET" {g = $3} $1 == "task" {l = $3} END {print g + 3 * l}' "$work/edge-bench.txt")
    echo "workerd CPU: $(( (after - before) * 1000000 / hz )) us over the phase's requests" \
        "($(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "?" }') us per request, $requests requests)"
    stop_edge
done

start_edge functions/edge off off
echo "== run events, from written to watched ($runs runs)"
"$skein" bench events --url http://127.0.0.1:18080 --token "$token" --runs "$runs"
"$skein" bench events --url http://127.0.0.1:18787 --token "$token" --runs "$runs"
