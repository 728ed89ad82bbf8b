#!/usr/bin/env python3
"""Skein side by side with the peers, in one run, with the same external clients.

    python3 scripts/compare-peers.py [--peers ../shared/peers] [--skein target/release/skein]

Starts (fresh, on loopback) the FastAPI seed stack and Restate with the peers' own scripts,
nginx with one worker answering a constant, and `skein dev` on a new data dir as a separate
process; then drives each with the peers' clients (bench.py, workflow3.py, wrk) and prints
one markdown table of the five measurements, their ratios and the machine they ran on. The
peers' directory is `../shared/peers` next to this repository unless --peers names another.

Rate limits are off on `skein dev` for the run (the peers have none); everything else is its
default. Each server gets the whole machine while it is measured; on a small machine the
client shares the CPU with the server, and both servers pay the same.
"""
import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKEIN_PORT, NGINX_PORT = 18090, 18099
NGINX_CONF = """worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir};
  uwsgi_temp_path {dir}; scgi_temp_path {dir};
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type application/json; return 200 '{{"status":"ok"}}'; }}
  }}
}}
"""


def log(message):
    print(f"[compare] {message}", file=sys.stderr, flush=True)


def wait_for(url, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def json_lines(command, **kwargs):
    """Runs a client and returns the JSON objects it printed, one per line."""
    log(" ".join(command))
    out = subprocess.run(command, check=True, capture_output=True, text=True, **kwargs).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def wrk_rps(url, seconds):
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", url], check=True, capture_output=True, text=True
    ).stdout
    line = next(l for l in out.splitlines() if l.startswith("Requests/sec:"))
    errors = [l.strip() for l in out.splitlines() if "Non-2xx" in l or "Socket errors" in l]
    if errors:
        raise SystemExit(f"wrk against {url}: {errors}")
    return float(line.split()[1])


class Skein:
    def __init__(self, binary):
        self.data = tempfile.mkdtemp(prefix="skein-compare-")
        # Principal and tenant limits are off unless set; the source limit is on by default.
        # Warnings only, as the FastAPI peer runs (--no-access-log --log-level warning).
        env = dict(os.environ, SKEIN_DATA_DIR=self.data, SKEIN_RATE_SOURCE="off", SKEIN_LOG="warn")
        env.pop("SKEIN_RATE_PRINCIPAL", None)
        env.pop("SKEIN_RATE_TENANT", None)
        self.env = env
        self.binary = binary
        self.log = open(os.path.join(self.data, "server.log"), "w")
        self.process = subprocess.Popen(
            [binary, "dev", "--addr", f"127.0.0.1:{SKEIN_PORT}"], env=env,
            stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{SKEIN_PORT}"
        wait_for(self.url + "/v1/health")
        self.token = subprocess.run(
            [binary, "token", "--admin", "--ttl", "7200"], env=env, check=True,
            capture_output=True, text=True).stdout.strip()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        shutil.rmtree(self.data, ignore_errors=True)


def start_nginx():
    scratch = tempfile.mkdtemp(prefix="nginx-compare-")
    conf = os.path.join(scratch, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=scratch, port=NGINX_PORT))
    subprocess.run(["nginx", "-c", conf, "-p", scratch], check=True)
    wait_for(f"http://127.0.0.1:{NGINX_PORT}/")
    return conf, scratch


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", default=os.path.join(os.path.dirname(ROOT), "shared", "peers"))
    parser.add_argument("--skein", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "skein"))
    parser.add_argument("-d", "--duration", type=int, default=8, help="seconds per load phase")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            raise SystemExit(
                f"{tool} is not installed: make compare installs it "
                "(bash scripts/apt-install.sh wrk=wrk nginx=nginx-light)"
            )
    if not os.path.exists(args.skein):
        raise SystemExit(f"{args.skein} is missing: cargo build --release -p skein-cli")
    peers, d = args.peers, str(args.duration)
    bench, workflow3 = os.path.join(peers, "bench.py"), os.path.join(peers, "workflow3.py")
    creds = os.path.join(os.environ.get("PEERS_ROOT", "/tmp/peers"), "fastapi-seed", "peer.json")

    rows = []  # (measurement, peer name, peer figure, skein figure, ratio, unit)

    log("starting the FastAPI seed stack and Restate")
    subprocess.run(["bash", os.path.join(peers, "fastapi-seed", "run.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["bash", os.path.join(peers, "restate", "run.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    skein = Skein(args.skein)
    conf, scratch = start_nginx()
    try:
        fast = json_lines([sys.executable, bench, "--creds", creds, "--scenario", "get-agent", "-d", d])[0]
        mine = json_lines([sys.executable, bench, "--url", skein.url, "--token", skein.token,
                           "--scenario", "get-agent", "-d", d])[0]
        rows.append(("GET /v1/agents/{id}, 32 connections", "FastAPI seed", fast["rps"], mine["rps"],
                     mine["rps"] / fast["rps"], "req/s"))
        fast = json_lines([sys.executable, bench, "--creds", creds, "--scenario", "task-lifecycle",
                           "-c", "16", "-d", d])[0]
        mine = json_lines([sys.executable, bench, "--url", skein.url, "--token", skein.token,
                           "--scenario", "task-lifecycle", "-c", "16", "-d", d])[0]
        rows.append(("task lifecycle (create+claim+complete), 16 agents", "FastAPI seed",
                     fast["rps"], mine["rps"], mine["rps"] / fast["rps"], "/s"))
        restate = json_lines([sys.executable, workflow3, "restate", "--url", "http://127.0.0.1:18080"])
        mine = json_lines([sys.executable, workflow3, "skein-sync", "--url", skein.url,
                           "--token", skein.token])
        seq = lambda lines: next(l for l in lines if "p50_ms" in l)
        loop = lambda lines: next(l for l in lines if "runs_per_s" in l or "rps" in l)
        rows.append(("3-step workflow, sequential, p50 start-to-result", "Restate",
                     seq(restate)["p50_ms"], seq(mine)["p50_ms"],
                     seq(restate)["p50_ms"] / seq(mine)["p50_ms"], "ms"))
        rate = lambda line: line.get("runs_per_s", line.get("rps"))
        rows.append(("3-step workflow, 16 clients", "Restate", rate(loop(restate)),
                     rate(loop(mine)), rate(loop(mine)) / rate(loop(restate)), "runs/s"))
        floor = wrk_rps(f"http://127.0.0.1:{NGINX_PORT}/v1/health", args.duration)
        mine = wrk_rps(f"{skein.url}/v1/health", args.duration)
        rows.append(("GET /v1/health (no auth, no store)", "nginx, 1 worker", floor, mine,
                     mine / floor, "req/s"))
    finally:
        skein.stop()
        subprocess.run(["nginx", "-c", conf, "-p", scratch, "-s", "stop"], check=False)
        for peer in ("fastapi-seed", "restate"):
            subprocess.run(["bash", os.path.join(peers, peer, "stop.sh")], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    print(f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, one run, same clients:\n")
    print("| measurement | peer | peer | Skein | ratio |")
    print("|---|---|---|---|---|")
    for name, peer, theirs, ours, ratio, unit in rows:
        print(f"| {name} | {peer} | {theirs:,.2f} {unit} | {ours:,.2f} {unit} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
