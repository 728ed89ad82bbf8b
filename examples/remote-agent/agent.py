#!/usr/bin/env python3
"""A tiny remote agent: claims `translate` tasks from Skein over the HTTP API and
completes them. Standard library only.

    export SKEIN_URL=http://127.0.0.1:8080
    eval "$(skein agents register translator --capability translate --env)"
    python3 examples/remote-agent/agent.py            # runs until Ctrl-C
    python3 examples/remote-agent/agent.py --once     # handles one task, then exits
"""
import json
import os
import sys
import urllib.error
import urllib.request

URL = os.environ.get("SKEIN_URL", "http://127.0.0.1:8080").rstrip("/")
AGENT_ID = os.environ["SKEIN_AGENT_ID"]
AGENT_SECRET = os.environ["SKEIN_AGENT_SECRET"]

# A toy dictionary: the point is the protocol, not the translation.
WORDS = {"fr": {"hello": "bonjour", "world": "monde", "good": "bon", "morning": "matin", "the": "le", "tide": "marée"}}


def call(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(URL + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def token():
    status, body = call("POST", "/v1/auth/token", {"client_id": AGENT_ID, "client_secret": AGENT_SECRET})
    if status != 200:
        sys.exit(f"cannot get a token: {status} {body}")
    return body["access_token"]


def translate(text, language):
    words = WORDS.get(language, {})
    return " ".join(words.get(word.lower(), word) for word in text.split())


def main():
    once = "--once" in sys.argv
    bearer = token()
    while True:
        # Long-poll: the server answers as soon as a task is ready, or 204 after 20 s.
        status, task = call("POST", f"/v1/agents/{AGENT_ID}/tasks/claim?wait=20", {}, bearer)
        if status == 401:
            bearer = token()
            continue
        if status == 204:
            continue
        if status != 200:
            sys.exit(f"claim failed: {status} {task}")
        text, language = task["input"]["text"], task["input"]["to"]
        result = {"text": translate(text, language), "language": language}
        print(f"task {task['id']}: {text!r} -> {result['text']!r}", flush=True)
        status, body = call("POST", f"/v1/tasks/{task['id']}/complete", {"result": result, "lease_id": task["lease"]["id"]}, bearer)
        if status != 200:
            sys.exit(f"complete failed: {status} {body}")
        if once:
            return


if __name__ == "__main__":
    main()
