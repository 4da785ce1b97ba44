// The control panel under test, shared by the browser end-to-end tests: `switchboard
// serve` on a fresh data folder and a free loopback port, and the system Chromium.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { freePort } from "./mcp.mjs";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, ".cache/switchboard/target");
export const bin = process.env.SWITCHBOARD_BIN ?? join(target, "debug", "switchboard");

/** Starts `switchboard serve`: `{ proc, data, base, panelUrl, stop() }`. */
export async function startServe(name, env = {}) {
  const data = mkdtempSync(join(tmpdir(), `switchboard-e2e-${name}-`));
  const port = await freePort();
  const proc = spawn(bin, ["--data-dir", data, "serve", "--listen", `127.0.0.1:${port}`], {
    env: { ...process.env, SWITCHBOARD_UI_DIR: join(root, "ui/dist"), SWITCHBOARD_SECRET_STORE: "file", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const panelUrl = await new Promise((resolve, reject) => {
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /Control panel: (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.on("exit", (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
    }
  };
  return { proc, data, base: `http://127.0.0.1:${port}`, panelUrl, stop };
}

/** The system Chromium, headless. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
