// An MCP client on the TypeScript SDK, driven by the acceptance tests: it
// connects to a URL with a bearer token, runs the steps given as JSON and
// prints one JSON line per step ({ok, result} or {ok: false, error, code}).
//
//   node ts_client.mjs --sdk sdk|client --era legacy|modern --url URL --token T --steps JSON
//
// `--sdk sdk` is @modelcontextprotocol/sdk (v1, 2025-11-25 sessions);
// `--sdk client` is @modelcontextprotocol/client (v2), in the era asked for:
// legacy (initialize, a session) or modern (2026-07-28, stateless).
// A step is {"list": true} or {"call": NAME, "arguments": {...}}.
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    sdk: { type: "string" },
    era: { type: "string", default: "legacy" },
    url: { type: "string" },
    token: { type: "string" },
    steps: { type: "string" },
  },
});

const headers = { Authorization: `Bearer ${values.token}` };
const info = { name: "switchboard-acceptance-ts", version: "1.0.0" };
let client;
if (values.sdk === "sdk") {
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  client = new Client(info, { capabilities: {} });
  await client.connect(new StreamableHTTPClientTransport(new URL(values.url), { requestInit: { headers } }));
} else {
  const { Client, StreamableHTTPClientTransport } = await import("@modelcontextprotocol/client");
  const mode = values.era === "modern" ? { pin: "2026-07-28" } : "legacy";
  client = new Client(info, { capabilities: {}, versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(new URL(values.url), { requestInit: { headers } }));
}

const version =
  client.getNegotiatedProtocolVersion?.() ?? client.transport?.protocolVersion ?? client.getServerVersion?.()?.version;
console.log(JSON.stringify({ connected: true, version: version ?? null }));

for (const step of JSON.parse(values.steps)) {
  try {
    const result = step.list
      ? await client.listTools()
      : await client.callTool({ name: step.call, arguments: step.arguments ?? {} }, undefined, { timeout: 120000 });
    console.log(JSON.stringify({ ok: true, result }));
  } catch (error) {
    console.log(JSON.stringify({ ok: false, error: String(error?.message ?? error), code: error?.code ?? null }));
  }
}
await client.close();
