// Pieces shared by the desktop test and the desktop measurement.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, mcp } from "../e2e/mcp.mjs";

export { freePort, mcp };

export const env = {
  app: process.env.SWITCHBOARD_DESKTOP_BIN,
  cli: process.env.SWITCHBOARD_BIN,
  fixtures: process.env.SWITCHBOARD_FIXTURES,
  driver: process.env.WEBDRIVER_URL,
  out: process.env.DESKTOP_OUT,
  tmp: process.env.DESKTOP_TMP,
};
for (const [k, v] of Object.entries(env)) {
  if (!v) throw new Error(`${k} is not set: run this through tests/desktop/run.sh`);
}


/** A data directory with the echo fixture as a stdio server and a client token. */
export function dataDir(prefix) {
  const dir = mkdtempSync(join(env.tmp, prefix));
  const cli = (...args) => execFileSync(env.cli, ["--data-dir", dir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  cli("servers", "add", "echo", "--command", join(env.fixtures, "echo-server"), "--arg", "--stdio");
  const token = cli("clients", "add", "desktop-test").trim();
  return { dir, token, cli };
}

/** The PIDs of `pid` and all its descendants. */
export function processTree(pid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** Whether `pid` runs (a zombie waiting for its parent does not). */
export function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** The running app started from `binary` (a child of the driver), by its PID. */
export function appPid(binary) {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const exe = execFileSync("readlink", [`/proc/${entry}/exe`], { encoding: "utf8" }).trim();
      if (exe === binary) return Number(entry);
    } catch {
      // Not ours to read, or gone.
    }
  }
  return null;
}

/** Resident memory (kB) of each process in `pids`, with its name. */
export function rss(pids) {
  return pids.flatMap((pid) => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const name = /Name:\s+(\S+)/.exec(status)?.[1] ?? "?";
      return [{ pid, name, kb }];
    } catch {
      return [];
    }
  });
}

/**
 * Counts, in the page, the audit rows that arrive over the event channel
 * (small messages are evaluated directly, large ones fetched: both end in a
 * registered IPC callback, which this wraps). Read `window.__auditSeen`.
 */
export function countAuditRows(session) {
  return session.exec(() => {
    const seen = { messages: 0, rows: 0, largest: 0 };
    window.__auditSeen = seen;
    const callbacks = window.__TAURI_INTERNALS__.callbacks;
    for (const [id, callback] of callbacks) {
      callbacks.set(id, (data) => {
        const m = data?.message;
        if (m?.type === "audit") {
          seen.messages++;
          seen.rows += m.rows.length;
          seen.largest = Math.max(seen.largest, JSON.stringify(m).length);
        }
        return callback(data);
      });
    }
    return callbacks.size;
  });
}
