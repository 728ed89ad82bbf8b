#!/usr/bin/env python3
"""How well skein dev keeps answering while tenants' steps run away.

Starts `skein dev` (a release build, as its own process) on a fresh data dir, then keeps two
runs of a workflow whose `transform` step spins (`last(range(1e15))`) in flight for the whole
measurement, starting a new one as each is stopped. Meanwhile one external client asks for
`/v1/health` over a kept-alive connection and records each answer's latency. The same client
first measures an idle server as the baseline. Prints one JSON line.

    cargo build --release -p skein-cli
    python3 scripts/bench-runaway.py --seconds 10

Loopback only; every loop is bounded by --seconds.
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

RUNAWAY = """
name: runaway
steps:
  - id: spin
    builtin: transform
    timeout: 30s
    with: { program: 'last(range(1e15))' }
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(conn, method, path, token=None, body=None, content_type="application/json"):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = content_type
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, (json.loads(data) if data else None)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def probe(port, seconds):
    """Latencies (ms) of back-to-back GET /v1/health for `seconds`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        status, _ = call(conn, "GET", "/v1/health")
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"/v1/health answered {status}")
    conn.close()
    return latencies


def summary(latencies):
    return {
        "requests": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "max_ms": round(max(latencies), 3),
    }


def keep_two_running(port, token, stop, ended):
    """Two runs of `runaway` in flight until `stop` is set; records how each ended."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    running = []
    while not stop.is_set():
        while len(running) < 2:
            status, run = call(conn, "POST", "/v1/workflows/runaway/runs", token, json.dumps({"input": {}}))
            if status != 201:
                raise SystemExit(f"start answered {status}: {run}")
            running.append(run["id"])
        for run_id in list(running):
            _, run = call(conn, "GET", f"/v1/runs/{run_id}", token)
            if run["status"] != "running":
                running.remove(run_id)
                ended.append((run["status"], (run.get("error") or {}).get("cause", "")))
        time.sleep(0.05)
    conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skein", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "skein"))
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    data = tempfile.mkdtemp(prefix="skein-runaway-")
    port = free_port()
    env = dict(os.environ, SKEIN_DATA_DIR=data, SKEIN_ADDR=f"127.0.0.1:{port}", SKEIN_LOG="warn")
    server = subprocess.Popen([args.skein, "dev"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("skein dev did not start")
                time.sleep(0.1)
        token = subprocess.run([args.skein, "token", "--admin"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        status, body = call(conn, "POST", "/v1/workflows", token, RUNAWAY, "application/yaml")
        if status not in (200, 201):
            raise SystemExit(f"register answered {status}: {body}")

        idle = probe(port, args.seconds / 2)
        stop, ended = threading.Event(), []
        spinner = threading.Thread(target=keep_two_running, args=(port, token, stop, ended))
        spinner.start()
        time.sleep(0.5)
        loaded = probe(port, args.seconds)
        stop.set()
        spinner.join()
        causes = sorted({cause.split(";")[0][:90] for _, cause in ended})
        print(json.dumps({
            "scenario": "health-while-two-runaway-steps-spin",
            "idle": summary(idle),
            "two_runaway_steps": summary(loaded),
            "runaway_runs_ended": len(ended),
            "runaway_statuses": sorted({status for status, _ in ended}),
            "runaway_causes": causes,
            "server_alive": server.poll() is None,
        }))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
