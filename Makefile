.PHONY: dev aws-local test contract faults bench compare package edge bench-edge lint fmt

# The platform on its embedded default (SQLite) at http://127.0.0.1:8080.
dev:
	cargo run --release -p skein-cli -- dev

# The AWS deployment on this machine: moto, the resources, the functions' env file, the
# API's routes and the event sources (README: "The AWS deployment on your laptop").
aws-local:
	bash scripts/setup.sh
	cargo run -p skein-cli -- aws local

# Every check and test; installs what the tests need.
test:
	bash scripts/test.sh

# The API's contract: schemathesis (every check) against a fresh skein dev; make test runs
# it too. SKEIN_CONTRACT_SEED=random explores beyond the fixed seed.
contract:
	bash scripts/setup.sh
	bash scripts/contract.sh

# The fault-injection suites over SEEDS seeds: skein dev's adapters (SQLite), then the
# AWS adapters against moto (tests/tests/fault_injection.rs, aws_fault_injection.rs).
SEEDS ?= 1000
faults:
	SKEIN_FAULT_SEEDS=$(SEEDS) cargo test -p skein-tests --test fault_injection -- --nocapture
	SKEIN_AWS_FAULT_SEEDS=$(SEEDS) cargo test -p skein-tests --test aws_fault_injection -- --nocapture

# Requests/s and latency of the API and task lifecycles against a fresh dev server.
bench:
	cargo run --release -p skein-cli -- bench api
	cargo run --release -p skein-cli -- bench dag
	cargo run --release -p skein-cli -- bench messages

# Skein against the peers (FastAPI seed stack, Restate, nginx) in one run, same clients:
# a release `skein dev` in its own process, driven by ../shared/peers' clients.
compare:
	bash scripts/apt-install.sh wrk=wrk nginx=nginx-light
	cargo build --release -p skein-cli
	python3 scripts/compare-peers.py

# Every Lambda function as an arm64 zip: target/lambda/<function>/bootstrap.zip.
package:
	bash scripts/package.sh

# The edge Worker (functions/edge) with worker-build: functions/edge/build/index.js.
edge:
	bash scripts/setup.sh
	bash scripts/edge.sh

# The edge Worker against the origin it fronts: added latency, event delivery, bundle, CPU.
bench-edge:
	bash scripts/bench-edge.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all
