# Switchboard: build, run and test.
#
#   make run     build and start the desktop app (or, without a display, the gateway
#                headless: it prints its URLs)
#   make test    everything CI runs: setup, format check, clippy, unit tests, acceptance
#                tests (on SQLite, then the database suites on PostgreSQL), UI tests,
#                browser and desktop end-to-end tests
#   make lint    format check and clippy
#   make fmt     format the Rust code
#   make bench   the gateway's cost next to a direct connection and nginx (BENCHMARKS.md)
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

.PHONY: all run test setup setup-run build lint fmt unit acceptance postgres lock bench ui ui-test \
	e2e desktop measure-desktop icons

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

test: setup lint unit acceptance postgres ui-test e2e desktop

setup:
	bash tests/setup.sh

setup-run:
	bash tests/setup.sh --run

# The desktop app embeds ui/dist, so everything that compiles it needs the UI built.
build: ui
	cargo build --workspace --bins

lint: ui
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

unit: ui
	cargo test --workspace

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
	cd tests/e2e && node --test web.test.mjs oauth.test.mjs context.test.mjs

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
