#!/usr/bin/env bash
# Seeds the cargo-fuzz corpus with every definition in the conformance and validation cases.
# Then: cd shared/asl && cargo +nightly fuzz run parse_validate -- -max_total_time=60
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
corpus="$root/shared/asl/fuzz/corpus/parse_validate"
mkdir -p "$corpus"
python3 - "$root/shared/asl/tests" "$corpus" <<'PY'
import json, pathlib, sys, hashlib
tests, corpus = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
count = 0
for path in list(tests.glob("conformance/*.json")) + list(tests.glob("validation/*.json")):
    for case in json.loads(path.read_text())["cases"]:
        text = json.dumps(case["definition"]) if "definition" in case else case["definition_text"]
        (corpus / hashlib.sha1(text.encode()).hexdigest()).write_text(text)
        count += 1
print(f"{count} definitions in {corpus}")
PY
