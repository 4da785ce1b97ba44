#!/usr/bin/env bash
# Runs a script against the real desktop app in a private display: starts an X
# server (Xvfb), a D-Bus session bus and WebKitWebDriver, runs the script, and
# stops every process it started, by PID, whatever happens.
#
#   bash tests/desktop/run.sh desktop.test.mjs   the end-to-end test (node --test)
#   bash tests/desktop/run.sh measure.mjs        the desktop figures (BENCHMARKS.md)
#
# The script reaches the driver at $WEBDRIVER_URL, which launches the app
# ($SWITCHBOARD_DESKTOP_BIN) in a new session. Screenshots and logs go to
# $DESKTOP_OUT (default tests/out/desktop).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SCRIPT="${1:?usage: run.sh SCRIPT.mjs}"
TARGET="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}"
PROFILE="${SWITCHBOARD_PROFILE:-debug}"
export SWITCHBOARD_DESKTOP_BIN="${SWITCHBOARD_DESKTOP_BIN:-$TARGET/$PROFILE/switchboard-desktop}"
export SWITCHBOARD_BIN="${SWITCHBOARD_BIN:-$TARGET/$PROFILE/switchboard}"
export SWITCHBOARD_FIXTURES="${SWITCHBOARD_FIXTURES:-$TARGET/$PROFILE}"
export DESKTOP_OUT="${DESKTOP_OUT:-$ROOT/tests/out/desktop}"
mkdir -p "$DESKTOP_OUT"

for bin in "$SWITCHBOARD_DESKTOP_BIN" "$SWITCHBOARD_BIN" "$SWITCHBOARD_FIXTURES/echo-server"; do
    [ -x "$bin" ] || { echo "missing $bin: run \`make build\` first" >&2; exit 1; }
done

TMP="$(mktemp -d)"
PIDS=()

# Every descendant of $1, deepest first.
descendants() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        descendants "$child"
        echo "$child"
    done
}

cleanup() {
    local status=$? pid all=()
    # The driver's app and the app's web and server processes, then ours.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid="${PIDS[i]}"
        all+=($(descendants "$pid") "$pid")
    done
    if [ ${#all[@]} -gt 0 ]; then
        kill -TERM "${all[@]}" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "${all[@]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${all[@]}" 2>/dev/null || true
    fi
    rm -rf "$TMP"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until the file $1 has a line, for at most $2 tenths of a second.
wait_line() {
    for _ in $(seq "$2"); do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $1" >&2
    return 1
}

# A private X server on a display it picks itself, no TCP.
Xvfb -displayfd 3 -nolisten tcp -screen 0 1280x800x24 3>"$TMP/display" 2>"$DESKTOP_OUT/xvfb.log" &
PIDS+=($!)
wait_line "$TMP/display" 100
export DISPLAY=":$(head -1 "$TMP/display")"
unset WAYLAND_DISPLAY

# A private session bus: single-instance and notifications talk D-Bus, and
# must not meet a desktop session's apps.
dbus-daemon --session --nofork --nopidfile --print-address=3 3>"$TMP/bus" 2>"$DESKTOP_OUT/dbus.log" &
PIDS+=($!)
wait_line "$TMP/bus" 100
export DBUS_SESSION_BUS_ADDRESS="$(head -1 "$TMP/bus")"
# Desktop notifications the app raises, as sent on the bus ($DESKTOP_OUT/notifications.log).
export DESKTOP_NOTIFICATIONS="$DESKTOP_OUT/notifications.log"
dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" \
    >"$DESKTOP_NOTIFICATIONS" 2>&1 &
PIDS+=($!)

# The app's settings, window state and web caches stay in the temp dir.
export XDG_CONFIG_HOME="$TMP/config" XDG_DATA_HOME="$TMP/data" XDG_CACHE_HOME="$TMP/cache"
export XDG_RUNTIME_DIR="$TMP/runtime"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
export SWITCHBOARD_SECRET_STORE=file
export DESKTOP_TMP="$TMP"

# Without a GPU the app picks WebKitGTK's older renderer (src-tauri/src/renderer.rs),
# from which WebKitWebDriver cannot take screenshots: tests keep the default one.
case "$SCRIPT" in
    *.test.mjs) export WEBKIT_DISABLE_DMABUF_RENDERER="${WEBKIT_DISABLE_DMABUF_RENDERER:-0}" ;;
esac

PORT="$(free_port)"
TAURI_WEBVIEW_AUTOMATION=true WebKitWebDriver --port="$PORT" >"$DESKTOP_OUT/webdriver.log" 2>&1 &
PIDS+=($!)
export WEBDRIVER_URL="http://127.0.0.1:$PORT"
for _ in $(seq 100); do
    curl -fsS "$WEBDRIVER_URL/status" >/dev/null 2>&1 && break
    sleep 0.1
done

case "$SCRIPT" in
    *.test.mjs) node --test --test-reporter=spec "$HERE/$SCRIPT" ;;
    *) node "$HERE/$SCRIPT" ;;
esac
