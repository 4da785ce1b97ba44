"""Background processes held by their real PID, with their output kept in a log file."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

_ALL: list[Proc] = []


def free_port() -> int:
    """A loopback port that was free a moment ago (for peers that cannot bind port 0 themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields resume after the last ')'.
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def children(pid: int) -> list[int]:
    """Direct children of a process, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _ppid(int(entry)) == pid:
            found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = children(todo.pop())
        found.extend(kids)
        todo.extend(kids)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_running(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def kill_pids(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


class ProcessExited(RuntimeError):
    pass


class Proc:
    """A process we started: `pid` is the real one (never a wrapper's), output goes to `log_path`."""

    def __init__(
        self,
        name: str,
        argv: list[str | os.PathLike[str]],
        *,
        env: Mapping[str, str],
        log_dir: Path,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("a", encoding="utf-8", buffering=1)
        self._log.write(f"$ {' '.join(self.argv)}\n")
        self._lines: list[tuple[str, str]] = []
        self._cond = threading.Condition()
        self._popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
        )
        self._readers = [
            threading.Thread(target=self._pump, args=(self._popen.stdout, "out"), daemon=True),
            threading.Thread(target=self._pump, args=(self._popen.stderr, "err"), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        _ALL.append(self)

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def alive(self) -> bool:
        return self._popen.poll() is None

    def _pump(self, stream, label: str) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            with self._cond:
                self._lines.append((label, line))
                if not self._log.closed:
                    self._log.write(f"[{label}] {line}\n")
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def lines(self, stream: str | None = None) -> list[str]:
        with self._cond:
            return [line for label, line in self._lines if stream in (None, label)]

    def text(self, stream: str | None = None) -> str:
        return "\n".join(self.lines(stream))

    def wait_for(self, pattern: str, timeout: float, stream: str | None = None) -> re.Match[str]:
        """Wait for an output line matching `pattern`; fail early if the process exits."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for label, line in self._lines[seen:]:
                    if stream in (None, label) and (match := regex.search(line)):
                        return match
                seen = len(self._lines)
                if self._popen.poll() is not None and not any(r.is_alive() for r in self._readers):
                    raise ProcessExited(
                        f"{self.name} exited with {self._popen.returncode} before printing "
                        f"{pattern!r}; output:\n{self.tail()}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{self.name} did not print {pattern!r} within {timeout} s; output:\n{self.tail()}"
                    )
                self._cond.wait(min(left, 0.2))

    def tail(self, count: int = 40) -> str:
        return "\n".join(f"[{label}] {line}" for label, line in self._lines[-count:])

    def wait(self, timeout: float) -> int:
        return self._popen.wait(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal the process by PID, wait, escalate to SIGKILL; then kill what it left behind."""
        if self._popen.poll() is None:
            leftovers = descendants(self.pid)
            try:
                self._popen.send_signal(sig)
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait(timeout)
            # Whatever the process started and did not reap is ours to end too, by PID.
            kill_pids(pid for pid in leftovers if is_running(pid))
        for reader in self._readers:
            reader.join(2)
        with self._cond:
            self._log.close()
        if self in _ALL:
            _ALL.remove(self)
        return self._popen.returncode


def stop_all() -> None:
    """Last-resort teardown for anything a fixture did not stop."""
    for proc in list(reversed(_ALL)):
        proc.stop(signal.SIGKILL, timeout=5)


def run(
    argv: list[str | os.PathLike[str]],
    *,
    env: Mapping[str, str],
    timeout: float = 60,
    input: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a short command to completion and capture its output."""
    return subprocess.run(
        [str(a) for a in argv],
        env=dict(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
