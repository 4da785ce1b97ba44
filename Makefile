# Switchboard: build, run and test.
#
#   make run     build and start the gateway headless (prints its URLs)
#   make test    everything CI runs: setup, format check, clippy, unit tests, acceptance tests
#   make lint    format check and clippy
#   make fmt     format the Rust code
#
# Builds go to $(CARGO_TARGET_DIR), outside the clone, so repeated runs are incremental.

export CARGO_TARGET_DIR ?= $(HOME)/.cache/switchboard/target
export SWITCHBOARD_VENV ?= $(HOME)/.cache/switchboard/venv

PYTHON := $(SWITCHBOARD_VENV)/bin/python
SWITCHBOARD := $(CARGO_TARGET_DIR)/debug/switchboard

.PHONY: all run test setup setup-run build lint fmt unit acceptance lock

all: test

# Headless for now: `serve` prints the MCP endpoint and the control URL.
run: setup-run
	cargo build -p switchboard-cli
	$(SWITCHBOARD) serve

test: setup lint unit acceptance

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

# Re-resolve tests/package-lock.json after changing tests/package.json.
lock:
	bash tests/setup.sh --lock
