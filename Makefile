# Switchboard: build, run and test.
#
#   make run     build and start the desktop app (or, without a display, the gateway
#                headless: it prints its URLs)
#   make test    everything CI runs: setup, format check, clippy, unit tests, each fuzz
#                target briefly, acceptance tests (on SQLite, then the database suites on
#                PostgreSQL), UI tests, browser and desktop end-to-end tests
#   make lint    format check and clippy
#   make fmt     format the Rust code
#   make bench   the gateway's cost next to a direct connection and nginx (BENCHMARKS.md)
#   make soak    SOAK_MINUTES (30) of mixed load with faults on one gateway: leaks, p99, audit
#   make fuzz    each fuzz target (tests/fuzz, libFuzzer) for FUZZ_SECONDS (300) on its
#                corpus; fails on any crash (BENCHMARKS.md, Reliability)
#   make measure-desktop  the desktop app's memory, first window and frame times
#
# Builds go to $(CARGO_TARGET_DIR), outside the clone, so repeated runs are incremental.

export CARGO_TARGET_DIR ?= $(HOME)/.cache/switchboard/target
export SWITCHBOARD_VENV ?= $(HOME)/.cache/switchboard/venv
# Arize Phoenix, the OTLP receiver of the OpenTelemetry acceptance test.
export SWITCHBOARD_PHOENIX_VENV ?= $(HOME)/.cache/switchboard/phoenix-venv

PYTHON := $(SWITCHBOARD_VENV)/bin/python
SWITCHBOARD := $(CARGO_TARGET_DIR)/debug/switchboard
DESKTOP := $(CARGO_TARGET_DIR)/debug/switchboard-desktop

.PHONY: all run test setup setup-run build lint fmt unit fuzz fuzz-brief acceptance postgres lock \
	bench soak ui ui-test e2e desktop measure-desktop icons

all: test

# The desktop app where there is a display; else `serve`, which prints the MCP
# endpoint and the control panel's URL.
run: setup-run ui
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		cargo build -p switchboard-desktop && exec $(DESKTOP); \
	else \
		echo "No display (\$$DISPLAY, \$$WAYLAND_DISPLAY): starting the gateway headless."; \
		cargo build -p switchboard-cli && exec $(SWITCHBOARD) serve; \
	fi

test: setup lint unit fuzz-brief acceptance postgres ui-test e2e desktop

setup:
	bash tests/setup.sh

setup-run:
	bash tests/setup.sh --run

# The desktop app embeds ui/dist, so everything that compiles it needs the UI built.
build: ui
	cargo build --workspace --bins

lint: ui
	cargo fmt --all --check
	cargo fmt --manifest-path tests/fuzz/Cargo.toml --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all
	cargo fmt --manifest-path tests/fuzz/Cargo.toml

unit: ui
	cargo test --workspace

# Each fuzz target for FUZZ_SECONDS on its corpus (tests/fuzz/run.sh prints the table of
# BENCHMARKS.md); the brief run in `make test` catches a regression that crashes a target.
# Their own target dir, so that fuzz builds never wait for the workspace's.
FUZZ_SECONDS ?= 300
FUZZ_BRIEF_SECONDS ?= 10
fuzz:
	bash tests/setup.sh --fuzz
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-brief:
	bash tests/fuzz/run.sh $(FUZZ_BRIEF_SECONDS)

acceptance: build
	$(PYTHON) -m pytest tests/acceptance

# The same again on PostgreSQL: a private server (tests/postgres.sh) for the store and
# audit suites, the audit, policy and CLI acceptance tests, and several instances on one
# database.
PG_SUITES := tests/acceptance/test_audit.py tests/acceptance/test_policy.py \
	tests/acceptance/test_cli.py tests/acceptance/test_instances.py
postgres: build
	bash tests/postgres.sh sh -c 'cargo test -p switchboard-store -p switchboard-audit && \
		$(PYTHON) -m pytest $(PG_SUITES)'

# The web UI (ui/dist), served by `switchboard serve`.
ui:
	cd ui && npm run build

# UI type check and Vitest units.
ui-test:
	cd ui && npm run typecheck && npm test

# Playwright (system Chromium) against `switchboard serve` with server-everything, and the
# OAuth panel against oidc-provider and an rmcp server that requires its tokens.
e2e: build ui
	cd tests/e2e && node --test web.test.mjs clients.test.mjs oauth.test.mjs context.test.mjs

# The desktop app in a real WebKitGTK webview (Xvfb + WebKitWebDriver), with the
# echo fixture as a server; screenshots in tests/out/desktop.
desktop: build
	bash tests/desktop/run.sh desktop.test.mjs

# Re-resolve tests/package-lock.json after changing tests/package.json.
lock:
	bash tests/setup.sh --lock

# Release build (measuring a debug build says little), then the interleaved
# A/B/C/D run and the scale run; prints the table and writes bench-results/;
# then tool search over the corpus, what the sandbox adds to a server's start, and the
# policy decision over the same 5,000 tools.
bench:
	bash tests/setup.sh --bench
	cargo build --release -p switchboard-bench -p switchboard-fixtures -p switchboard-cli
	$(CARGO_TARGET_DIR)/release/switchboard-bench run --out bench-results
	$(CARGO_TARGET_DIR)/release/switchboard-bench search --corpus crates/bench/corpus --out bench-results
	$(CARGO_TARGET_DIR)/release/switchboard-bench sandbox --out bench-results
	bash tests/postgres.sh $(CARGO_TARGET_DIR)/release/switchboard-bench database --out bench-results
	cargo bench -p switchboard-gateway --bench policy

# One gateway (release, strict audit) for SOAK_MINUTES under mixed load from 32 clients over
# stdio, streamable-HTTP and SSE servers, with servers killed and restarted, configuration
# edited and clients added and removed at random (seeded); prints a line a minute and the
# checks, writes bench-results/soak.json, fails on a leak or a missing audit record.
SOAK_MINUTES ?= 30
soak: setup
	cargo build --release -p switchboard-bench -p switchboard-fixtures -p switchboard-cli
	$(CARGO_TARGET_DIR)/release/switchboard-bench soak --minutes $(SOAK_MINUTES) --out bench-results

# Idle memory, time to first window and frame times under 1,000 events/s of the
# desktop app (release build, like `bench`); prints the figures for BENCHMARKS.md.
measure-desktop: setup ui
	cargo build --release -p switchboard-desktop -p switchboard-cli -p switchboard-fixtures
	SWITCHBOARD_PROFILE=release bash tests/desktop/run.sh measure.mjs

# App icons from icons/icon.svg (the generated files are committed).
icons:
	cd icons && npx --yes @tauri-apps/cli@2.12.3 icon icon.svg -o gen && \
		cp gen/32x32.png gen/64x64.png gen/128x128.png gen/128x128@2x.png gen/icon.png \
			gen/icon.ico gen/icon.icns . && rm -rf gen
