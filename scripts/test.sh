#!/usr/bin/env bash
# Every check and test, from a clean clone on a brand-new machine. Installs what it needs
# (idempotent: a second run skips what is there). `make test` and `.ci/run` call this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says how long the run has taken so far, so a slow CI run shows where.
step() { printf '\n==> %s  [%dm%02ds]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

step "setup: rustfmt, clippy, the wasm32 target, chromium, Python tools in .venv*, Node and edge build tools in .tools"
bash scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "skein-core builds for wasm32-unknown-unknown (the edge Worker)"
cargo check -p skein-core --target wasm32-unknown-unknown --locked

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

step "the edge Worker builds (worker-build) and wrangler deploy --dry-run accepts it, offline"
# The build is wrangler.toml's own build command (scripts/edge.sh); the edge tests below
# run the bundle it leaves in functions/edge/build.
node_bin="$(realpath -m "${SKEIN_NODE_TOOLS:-.tools/node}")/node_modules/.bin"
(cd functions/edge && PATH="$node_bin:$PATH" WRANGLER_SEND_METRICS=false \
    wrangler deploy --dry-run --outdir "$scratch/edge")

step "the generated OpenAPI document is valid OpenAPI 3.1"
cargo run --quiet --locked -p skein-cli -- openapi > "$scratch/openapi.json"
"${SKEIN_VENV:-.venv}/bin/openapi-spec-validator" "$scratch/openapi.json"

step "the API keeps its contract: schemathesis, every check, against skein dev (scripts/contract.sh)"
bash scripts/contract.sh

step "npm asl-validator accepts every definition skein-asl runs"
node scripts/node-tools/agree.mjs shared/asl/tests

step "JSONata's own test suite: npm jsonata 2.0.6 passes all of it (skein-asl's rate on it is cargo test's jsonata_suite)"
node scripts/node-tools/jsonata-suite.mjs shared/asl/tests/jsonata/suite-2.0.6.json

step "the ASL of every example and fixture workflow passes skein-asl and npm asl-validator"
mkdir -p "$scratch/asl"
for workflow in examples/*.yaml shared/core/tests/workflows/valid/*.yaml; do
  compiled="$scratch/asl/$(basename "$workflow" .yaml).json"
  cargo run --quiet --locked -p skein-cli -- compile "$workflow" > "$compiled"
  cargo run --quiet --locked -p skein-cli -- asl validate "$compiled" > /dev/null
done
node scripts/node-tools/validate-asl.mjs "$scratch/asl"

infra_venv="${SKEIN_VENV:-.venv}-infra"
# Terraform cannot download its AWS provider here, so `terraform validate`/`plan` cannot
# run: the templates are checked offline, and against the code by deploy_consistency.rs.
step "terraform fmt -check (terraform/)"
if command -v terraform > /dev/null; then
    TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive -diff terraform
else
    echo "terraform is not installed: skipping its formatting check (checkov still reads terraform/)"
fi

step "checkov on terraform/: no failed checks (each skip is justified inline)"
"$infra_venv/bin/checkov" -d terraform --framework terraform --compact --quiet --skip-download

step "cfn-lint on the SAM template"
"$infra_venv/bin/cfn-lint" infra/template.yaml

step "parliament on every role's policy, as Terraform and SAM render them"
cargo run --quiet --locked -p skein-tests --bin iam-policies -- "$scratch/iam"
"$infra_venv/bin/parliament" --directory "$scratch/iam" --include_policy_extension json --exclude_pattern '.*-bedrock-models[.]json'
"$infra_venv/bin/parliament" --directory "$scratch/iam" --include_policy_extension bedrock-models.json --config scripts/parliament-bedrock.yaml

step "cargo test: unit, adapter contract and end-to-end tests"
# cargo prints one summary per test binary (the last is often an empty doc-test run);
# close with the total, also when something failed.
status=0
cargo test --workspace --locked 2>&1 | tee "$scratch/test.log" || status=$?
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$scratch/test.log"
exit "$status"
