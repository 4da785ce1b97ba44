# Switchboard: build, run and test.
#
#   make run     build and start the gateway headless (prints its URLs)
#   make test    everything CI runs: setup, format check, clippy, unit tests, acceptance tests
#   make lint    format check and clippy
#   make fmt     format the Rust code
#   make bench   the gateway's cost next to a direct connection and nginx (BENCHMARKS.md)
#
# Builds go to $(CARGO_TARGET_DIR), outside the clone, so repeated runs are incremental.

export CARGO_TARGET_DIR ?= $(HOME)/.cache/switchboard/target
export SWITCHBOARD_VENV ?= $(HOME)/.cache/switchboard/venv

PYTHON := $(SWITCHBOARD_VENV)/bin/python
SWITCHBOARD := $(CARGO_TARGET_DIR)/debug/switchboard

.PHONY: all run test setup setup-run build lint fmt unit acceptance lock bench ui ui-test e2e

all: test

# Headless for now: `serve` prints the MCP endpoint and the control URL.
run: setup-run ui
	cargo build -p switchboard-cli
	$(SWITCHBOARD) serve

test: setup lint unit acceptance ui-test e2e

setup:
	bash tests/setup.sh

setup-run:
	bash tests/setup.sh --run

build:
	cargo build --workspace --bins

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

unit:
	cargo test --workspace

acceptance: build
	$(PYTHON) -m pytest tests/acceptance

# The web UI (ui/dist), served by `switchboard serve`.
ui:
	cd ui && npm run build

# UI type check and Vitest units.
ui-test:
	cd ui && npm run typecheck && npm test

# Playwright (system Chromium) against `switchboard serve` with server-everything, and the
# OAuth panel against oidc-provider and an rmcp server that requires its tokens.
e2e: build ui
	cd tests/e2e && node --test web.test.mjs oauth.test.mjs

# Re-resolve tests/package-lock.json after changing tests/package.json.
lock:
	bash tests/setup.sh --lock

# Release build (measuring a debug build says little), then the interleaved
# A/B/C/D run and the scale run; prints the table and writes bench-results/;
# then the policy decision over the same 5,000 tools.
bench:
	bash tests/setup.sh --bench
	cargo build --release -p switchboard-bench -p switchboard-fixtures -p switchboard-cli
	$(CARGO_TARGET_DIR)/release/switchboard-bench run --out bench-results
	cargo bench -p switchboard-gateway --bench policy
