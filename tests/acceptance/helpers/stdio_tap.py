"""Test-only stdio tap: runs an MCP server command and records the messages it exchanges.

    python stdio_tap.py --record FILE -- COMMAND [ARG...]

Lines read on stdin go to the command's stdin, lines it writes on stdout come back on
stdout, unchanged and one at a time; each is also appended to FILE as a JSON line
{"t": time, "dir": "to_server" | "from_server", "msg": message}. The command's stderr is
passed through. Tests use the record to see what the upstream server was sent (for
instance a `notifications/cancelled`) and what it answered.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")

    record = open(args.record, "a", encoding="utf-8", buffering=1)
    lock = threading.Lock()

    def note(direction: str, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            message = {"unparsed": line.decode(errors="replace")}
        with lock:
            record.write(json.dumps({"t": time.time(), "dir": direction, "msg": message}) + "\n")

    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def forward_signal(signum, _frame):
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward_signal)
    signal.signal(signal.SIGINT, forward_signal)

    def to_child() -> None:
        for line in iter(sys.stdin.buffer.readline, b""):
            note("to_server", line)
            try:
                child.stdin.write(line)
                child.stdin.flush()
            except (BrokenPipeError, ValueError):
                break
        try:
            child.stdin.close()
        except BrokenPipeError:
            pass

    threading.Thread(target=to_child, daemon=True).start()
    for line in iter(child.stdout.readline, b""):
        note("from_server", line)
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
