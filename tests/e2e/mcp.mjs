// Test helpers shared by the browser and desktop end-to-end tests: a free
// loopback port, and a minimal MCP client over streamable HTTP.
import { createServer } from "node:net";

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A minimal MCP client over streamable HTTP with a keep-alive connection:
 *  `send(method, params, notify)`; `send.init` is the initialize answer and
 *  `send.close()` ends the session. */
export async function mcp(base, token, name = "e2e", version = "2025-06-18") {
  let session;
  let id = 0;
  const send = async (method, params, notify = false) => {
    const res = await fetch(`${base}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(session ? { "mcp-session-id": session } : {}),
        "mcp-protocol-version": version,
      },
      body: JSON.stringify(notify ? { jsonrpc: "2.0", method, params } : { jsonrpc: "2.0", id: ++id, method, params }),
    });
    session ??= res.headers.get("mcp-session-id");
    const text = await res.text();
    if (notify) return null;
    const line = text
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5))
      .find((l) => l.includes('"id"'));
    return JSON.parse(line ?? text);
  };
  send.init = await send("initialize", { protocolVersion: version, capabilities: {}, clientInfo: { name, version: "1" } });
  await send("notifications/initialized", {}, true);
  send.close = async () => {
    if (session) {
      await fetch(`${base}/mcp`, { method: "DELETE", headers: { authorization: `Bearer ${token}`, "mcp-session-id": session } });
    }
  };
  return send;
}

/** A minimal MCP client over stdio, as a desktop client launches a server from its
 *  config: `send(method, params, notify)`; `send.close()` ends the process. */
export async function mcpStdio(command, args, env, name = "e2e-stdio", version = "2025-06-18") {
  const { spawn } = await import("node:child_process");
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"] });
  const waiting = new Map();
  let buffer = "";
  let id = 0;
  child.stdout.on("data", (d) => {
    buffer += d;
    let at;
    while ((at = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, at).trim();
      buffer = buffer.slice(at + 1);
      if (!line) continue;
      const message = JSON.parse(line);
      waiting.get(message.id)?.(message);
      waiting.delete(message.id);
    }
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const send = (method, params, notify = false) => {
    const message = notify ? { jsonrpc: "2.0", method, params } : { jsonrpc: "2.0", id: ++id, method, params };
    child.stdin.write(JSON.stringify(message) + "\n");
    if (notify) return Promise.resolve(null);
    return Promise.race([
      new Promise((resolve) => waiting.set(message.id, resolve)),
      exited.then((code) => Promise.reject(new Error(`${command} exited ${code} before answering ${method}`))),
    ]);
  };
  send.init = await send("initialize", { protocolVersion: version, capabilities: {}, clientInfo: { name, version: "1" } });
  await send("notifications/initialized", {}, true);
  send.close = async () => {
    child.stdin.end();
    await exited;
  };
  return send;
}
