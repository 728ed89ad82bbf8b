#!/usr/bin/env python3
"""Runs skein-asl's conformance cases on moto's Step Functions execution mode (a second,
independent implementation that speaks the real AWS API) and compares the outcomes with the
cases' expectations. Cases moto cannot run (Task states, waits, clocks, randomness, limits)
are skipped. It reports; it does not gate: where moto differs, the cases follow the AWS
documentation (each file names its source), and the differences seen so far are moto's own
gaps, summarised in the README.

Usage: .venv/bin/python scripts/asl-moto-crosscheck.py   (scripts/setup.sh installs moto)
"""
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

import boto3

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASES = ROOT / "shared/asl/tests/conformance"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uses(value, needles):
    text = json.dumps(value)
    return any(n in text for n in needles)


def runnable(case):
    if case.get("tasks") or case.get("stop_after_seconds") or case.get("max_payload_bytes"):
        return False
    if "history limit" in case["name"]:
        return False  # an endless loop: moto would spin on it
    unsupported = ['"Task"', '"Wait"', "EnteredTime", "StartTime", "MathRandom", "UUID", "TimeoutSeconds"]
    return not uses(case["definition"], unsupported)


def main():
    port = free_port()
    env = dict(os.environ, MOTO_PORT=str(port))
    moto = pathlib.Path(sys.executable).parent / "moto_server"
    server = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        config = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
        urllib.request.urlopen(urllib.request.Request(base + "/moto-api/config", data=config, method="POST"))
        sfn = boto3.client("stepfunctions", endpoint_url=base, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
        agreed, differed, skipped, refused = 0, [], 0, []
        for path in sorted(CASES.glob("*.json")):
            for index, case in enumerate(json.loads(path.read_text())["cases"]):
                if not runnable(case):
                    skipped += 1
                    continue
                name = f"{path.stem}-{index}"
                try:
                    arn = sfn.create_state_machine(name=name, definition=json.dumps(case["definition"]),
                                                   roleArn="arn:aws:iam::123456789012:role/skein")["stateMachineArn"]
                except sfn.exceptions.ClientError as error:
                    refused.append(f"{path.name} / {case['name']}: {error}")
                    continue
                execution = sfn.start_execution(stateMachineArn=arn, name="conformance",
                                                input=json.dumps(case.get("input", {})))["executionArn"]
                for _ in range(60):
                    described = sfn.describe_execution(executionArn=execution)
                    if described["status"] != "RUNNING":
                        break
                    time.sleep(0.05)
                problem = compare(case["expect"], described)
                if "-v" in sys.argv:
                    print(f"{path.name} #{index}: moto {described['status']}", file=sys.stderr, flush=True)
                label = f"{path.name} / {case['name']}"
                if problem:
                    differed.append(f"{label}: {problem}")
                else:
                    agreed += 1
        print(f"moto agrees on {agreed} of {agreed + len(differed)} conformance cases it can run "
              f"({skipped} need features moto does not run, {len(refused)} it cannot parse)")
        for line in refused:
            print(f"moto cannot parse (its ASL grammar, not a difference in behaviour): {line}")
        for line in differed:
            print(f"differs: {line}")
        return 0
    finally:
        server.terminate()
        server.wait()


def compare(expect, described):
    status = described["status"]
    wanted = expect.get("status") or ("FAILED" if expect.get("error") else "SUCCEEDED")
    if status != wanted:
        return f"moto says {status} ({described.get('error')}: {described.get('cause')}), the case expects {wanted}"
    output = described.get("output") or "null"
    try:
        output = json.loads(output)
    except ValueError:
        pass  # moto returns a string result without JSON quotes
    if "output" in expect and output != expect["output"]:
        return f"moto's output {described.get('output')} != expected {json.dumps(expect['output'])}"
    if expect.get("error") and described.get("error") != expect["error"]:
        return f"moto's error {described.get('error')} != expected {expect['error']}"
    return None


if __name__ == "__main__":
    sys.exit(main())
