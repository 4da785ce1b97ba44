import { useState, type FormEvent } from "react";
import { Link } from "@tanstack/react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { NewTransport, ServerInfo } from "../bindings";
import { errorText, rpc } from "../api";
import { keys } from "../data/invalidate";
import { Empty, ErrorNote, Page, StateBadge } from "../ui";

function target(s: ServerInfo): string {
  const t = s.transport;
  return t.kind === "stdio" ? [t.command, ...t.args].join(" ") : t.url;
}

/** Splits a command line on spaces, keeping "quoted parts" together. */
function splitCommand(line: string): string[] {
  return (line.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((p) => p.replace(/^["']|["']$/g, ""));
}

/** Reads `{"mcpServers": {name: {...}}}` or `{name: {...}}` or one server. */
function fromJson(text: string, fallbackName: string): { name: string; transport: NewTransport } {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  let entries = (parsed.mcpServers ?? parsed.servers ?? parsed) as Record<string, unknown>;
  if ("command" in entries || "url" in entries) entries = { [fallbackName]: entries };
  const [name, raw] = Object.entries(entries)[0] ?? [];
  if (!name || typeof raw !== "object" || raw === null) throw new Error("no server found in the JSON");
  const s = raw as { command?: string; args?: string[]; env?: Record<string, string>; url?: string; headers?: Record<string, string>; type?: string };
  if (s.command) {
    return { name, transport: { kind: "stdio", command: s.command, args: s.args ?? [], env: Object.entries(s.env ?? {}) } };
  }
  if (s.url) {
    const kind = s.type === "sse" ? "sse" : "http";
    return { name, transport: { kind, url: s.url, headers: Object.entries(s.headers ?? {}) } };
  }
  throw new Error("a server needs a command or a url");
}

function AddServer({ onDone }: { onDone: () => void }) {
  const client = useQueryClient();
  const [mode, setMode] = useState<"command" | "url" | "json">("command");
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const add = useMutation({
    mutationFn: (p: { name: string; transport: NewTransport }) => rpc("server_add", p),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.servers });
      onDone();
    },
    onError: (e) => setError(errorText(e)),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      if (mode === "json") {
        add.mutate(fromJson(value, name || "server"));
      } else if (mode === "url") {
        add.mutate({ name, transport: { kind: "http", url: value.trim(), headers: [] } });
      } else {
        const [command, ...args] = splitCommand(value);
        add.mutate({ name, transport: { kind: "stdio", command: command ?? "", args, env: [] } });
      }
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form className="card form" onSubmit={submit} aria-label="Add a server">
      <div className="segmented" role="tablist">
        {(["command", "url", "json"] as const).map((m) => (
          <button key={m} type="button" role="tab" aria-selected={mode === m} className={mode === m ? "on" : ""} onClick={() => setMode(m)}>
            {m === "command" ? "Command" : m === "url" ? "URL" : "Paste JSON"}
          </button>
        ))}
      </div>
      <label>
        Name
        <input autoFocus value={name} onChange={(e) => setName(e.target.value)} placeholder="github" required={mode !== "json"} />
      </label>
      <label>
        {mode === "command" ? "Command" : mode === "url" ? "URL" : "JSON config"}
        {mode === "json" ? (
          <textarea rows={6} value={value} onChange={(e) => setValue(e.target.value)} placeholder='{"mcpServers": {"everything": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]}}}' />
        ) : (
          <input value={value} onChange={(e) => setValue(e.target.value)} placeholder={mode === "command" ? "npx -y @modelcontextprotocol/server-everything" : "https://example.com/mcp"} required />
        )}
      </label>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="row">
        <button type="submit" className="primary" disabled={add.isPending}>
          Add server
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function Servers() {
  const client = useQueryClient();
  const [adding, setAdding] = useState(false);
  const servers = useQuery({ queryKey: keys.servers, queryFn: () => rpc("servers_list", null) });
  const toggle = useMutation({
    mutationFn: (s: ServerInfo) => rpc("server_set_enabled", { name: s.name, enabled: !s.enabled }),
    onSettled: () => client.invalidateQueries({ queryKey: keys.servers }),
  });
  const approve = useMutation({
    mutationFn: (name: string) => rpc("server_approve", { name }),
    onSettled: () => client.invalidateQueries({ queryKey: keys.servers }),
  });
  const remove = useMutation({
    mutationFn: (name: string) => rpc("server_remove", { name }),
    onSettled: () => client.invalidateQueries({ queryKey: keys.servers }),
  });
  const list = servers.data ?? [];
  return (
    <Page
      title="Servers"
      actions={
        <button className="primary" onClick={() => setAdding(true)} disabled={adding}>
          Add server
        </button>
      }
    >
      {adding && <AddServer onDone={() => setAdding(false)} />}
      <ErrorNote error={servers.error ?? toggle.error ?? remove.error ?? approve.error} />
      {servers.isSuccess && list.length === 0 && !adding && (
        <Empty title="No servers yet">
          <p>Add the MCP servers your clients should reach through Switchboard: a command it starts, or the URL of a remote server.</p>
          <button className="primary" onClick={() => setAdding(true)}>
            Add your first server
          </button>
        </Empty>
      )}
      {list.length > 0 && (
        <table className="table" aria-label="Servers">
          <thead>
            <tr>
              <th>Name</th>
              <th>Status</th>
              <th>Transport</th>
              <th>Protocol</th>
              <th>Tools</th>
              <th>Last error</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((s) => (
              <tr key={s.name} data-server={s.name}>
                <td>
                  <Link to="/servers/$name" params={{ name: s.name }} className="strong">
                    {s.name}
                  </Link>
                  <div className="muted mono clip">{target(s)}</div>
                </td>
                <td>
                  <StateBadge state={s.enabled ? (s.status?.state ?? "starting") : "disabled"} />
                </td>
                <td>{s.transport.kind}</td>
                <td className="mono" data-protocol>{s.status?.protocol_version ?? "–"}</td>
                <td>{s.status?.tools ?? "–"}</td>
                <td className="muted clip">{s.status?.error ?? ""}</td>
                <td className="row end">
                  {!s.launch_approved && (
                    <button onClick={() => approve.mutate(s.name)} title="Allow this command to run">
                      Approve
                    </button>
                  )}
                  <button onClick={() => toggle.mutate(s)}>{s.enabled ? "Disable" : "Enable"}</button>
                  <button
                    className="danger"
                    onClick={() => {
                      if (confirm(`Remove ${s.name}?`)) remove.mutate(s.name);
                    }}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
