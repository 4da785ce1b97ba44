import { useState, type FormEvent } from "react";
import { Link, useParams } from "@tanstack/react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { NewTransport, Permission, ServerInfo, ToolInfo } from "../bindings";
import { errorText, rpc } from "../api";
import { keys } from "../data/invalidate";
import { Empty, ErrorNote, FormActions, Page, PermissionToggle, StateBadge } from "../ui";
import { splitCommand } from "./AddServer";
import { OAuthPanel } from "./OAuthPanel";
import { count } from "./ContextMeter";
import { SandboxPanel } from "./Sandbox";

function ToolRow({ tool }: { tool: ToolInfo }) {
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const set = useMutation({
    mutationFn: (permission: Permission | null) => rpc("permission_set", { server: tool.server, tool: tool.name, permission }),
    onSettled: () => client.invalidateQueries({ queryKey: keys.tools(tool.server) }),
  });
  return (
    <li className="tool card" data-tool={tool.name}>
      <div className="row between">
        <button className="link strong" onClick={() => setOpen(!open)} aria-expanded={open}>
          {tool.title ?? tool.name}
        </button>
        <div className="row">
          <span className="muted small mono" data-tokens={tool.tokens} title="Tokens of its definition as /mcp lists it">
            {count(tool.tokens)} tokens
          </span>
          {tool.changed && <span className="badge state-failed">definition changed</span>}
          {tool.flags.map((f) => (
            <span key={f.rule} className={`badge flag-${f.severity}`} title={f.detail}>
              {f.rule}
            </span>
          ))}
          <PermissionToggle label={`Permission of ${tool.name}`} value={tool.permission} onChange={(p) => set.mutate(p)} />
          {tool.explicit && (
            <button className="link muted" onClick={() => set.mutate(null)} title="Back to the default">
              reset
            </button>
          )}
        </div>
      </div>
      <p className="muted">{tool.description}</p>
      <p className="muted small">{tool.rule}</p>
      {open && <pre className="json">{JSON.stringify(tool.input_schema, null, 2)}</pre>}
      {tool.changed && <ToolChangeReview tool={tool} />}
      <ErrorNote error={set.error} />
    </li>
  );
}

/** The diff of a changed definition, blocked until the user approves it. */
function ToolChangeReview({ tool }: { tool: ToolInfo }) {
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const change = useQuery({
    queryKey: keys.change(tool.server, tool.name),
    queryFn: () => rpc("tool_change", { server: tool.server, tool: tool.name }),
    enabled: open,
  });
  const approve = useMutation({
    mutationFn: () => rpc("tool_change_approve", { server: tool.server, tool: tool.name }),
    onSettled: () => client.invalidateQueries({ queryKey: keys.tools(tool.server) }),
  });
  return (
    <div className="change">
      <p className="warn small">
        The server changed this tool's definition after it was approved; calls are refused until you review it.{" "}
        <button className="link" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? "Hide the change" : "Review the change"}
        </button>
      </p>
      {open && change.data && (
        <>
          <pre className="json diff" aria-label={`Change of ${tool.name}`}>
            {change.data.lines.map((line, i) => (
              <div key={i} className={line.startsWith("+ ") ? "add" : line.startsWith("- ") ? "del" : ""}>
                {line}
              </div>
            ))}
          </pre>
          <button className="primary" onClick={() => approve.mutate()} disabled={approve.isPending}>
            Approve the new definition
          </button>
        </>
      )}
      <ErrorNote error={change.error ?? approve.error} />
    </div>
  );
}

function Resources({ name }: { name: string }) {
  const offer = useQuery({ queryKey: keys.offer(name), queryFn: () => rpc("server_offer", { name }) });
  const list = offer.data?.resources ?? [];
  return (
    <>
      <ErrorNote error={offer.error} />
      {offer.isSuccess && list.length === 0 && <Empty title="No resources">{<p>This server offers no resources.</p>}</Empty>}
      {list.length > 0 && (
        <table className="table" aria-label="Resources">
          <thead>
            <tr>
              <th>Name</th>
              <th>URI</th>
              <th>Type</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={`${r.template}:${r.uri}`}>
                <td>
                  <span className="strong">{r.title ?? r.name}</span>
                  {r.template && <span className="badge">template</span>}
                  {r.description && <div className="muted small">{r.description}</div>}
                </td>
                <td className="mono clip">{r.uri}</td>
                <td className="muted">{r.mime_type ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function Prompts({ name }: { name: string }) {
  const offer = useQuery({ queryKey: keys.offer(name), queryFn: () => rpc("server_offer", { name }) });
  const list = offer.data?.prompts ?? [];
  return (
    <>
      <ErrorNote error={offer.error} />
      {offer.isSuccess && list.length === 0 && <Empty title="No prompts">{<p>This server offers no prompts.</p>}</Empty>}
      <ul className="tools">
        {list.map((p) => (
          <li key={p.name} className="card">
            <span className="strong">{p.title ?? p.name}</span>
            {p.description && <p className="muted">{p.description}</p>}
            {p.arguments.length > 0 && (
              <p className="small">
                {p.arguments.map((a) => (
                  <span key={a.name} className="badge" title={a.description ?? ""}>
                    {a.name}
                    {a.required ? " *" : ""}
                  </span>
                ))}
              </p>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}

function Log({ name }: { name: string }) {
  const log = useQuery({ queryKey: keys.log(name), queryFn: () => rpc("server_log", { name }), refetchInterval: 2000 });
  return (
    <>
      <ErrorNote error={log.error} />
      {log.isSuccess && !log.data.text && <Empty title="Nothing logged">{<p>What this server writes to stderr shows here.</p>}</Empty>}
      {log.data?.text && (
        <pre className="json log selectable" aria-label={`stderr of ${name}`}>
          {log.data.text}
        </pre>
      )}
    </>
  );
}

/** Pairs as "KEY=value" lines; a key alone keeps the stored value. */
function parsePairs(text: string): [string, string][] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const i = l.search(/[=:]/);
      return i < 0 ? [l, ""] : [l.slice(0, i).trim(), l.slice(i + 1).trim()];
    });
}

function EditServer({ server, onDone }: { server: ServerInfo; onDone: () => void }) {
  const client = useQueryClient();
  const t = server.transport;
  const [target, setTarget] = useState(t.kind === "stdio" ? [t.command, ...t.args].join(" ") : t.url);
  const [pairs, setPairs] = useState((t.kind === "stdio" ? t.env : []).join("\n"));
  const update = useMutation({
    mutationFn: (transport: NewTransport) => rpc("server_update", { name: server.name, transport }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.servers });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (t.kind === "stdio") {
      const [command, ...args] = splitCommand(target);
      update.mutate({ kind: "stdio", command: command ?? "", args, env: parsePairs(pairs) });
    } else {
      update.mutate({ kind: t.kind, url: target.trim(), headers: parsePairs(pairs) });
    }
  };
  return (
    <form className="card form" onSubmit={submit} aria-label={`Edit ${server.name}`}>
      <label>
        {t.kind === "stdio" ? "Command" : "URL"}
        <input value={target} onChange={(e) => setTarget(e.target.value)} required />
      </label>
      <label>
        {t.kind === "stdio" ? "Environment" : "Headers"}
        <textarea rows={3} value={pairs} onChange={(e) => setPairs(e.target.value)} placeholder="NAME=value, one per line" />
        <span className="muted small">Stored values stay hidden: a name alone keeps its value; NAME=new replaces it. Secrets go to the OS keyring.</span>
      </label>
      {update.error && <p className="error" role="alert">{errorText(update.error)}</p>}
      <FormActions submit="Save" busy={update.isPending} onCancel={onDone} />
    </form>
  );
}

type Tab = "tools" | "resources" | "prompts" | "sandbox" | "log";

export function ServerDetail() {
  const { name } = useParams({ from: "/servers/$name" });
  const client = useQueryClient();
  const servers = useQuery({ queryKey: keys.servers, queryFn: () => rpc("servers_list", null) });
  const server = servers.data?.find((s) => s.name === name);
  const ready = server?.status?.state === "ready";
  const tools = useQuery({
    queryKey: keys.tools(name),
    queryFn: () => rpc("tools_list", { name }),
    enabled: ready,
  });
  const [filter, setFilter] = useState("");
  const [tab, setTab] = useState<Tab>("tools");
  const [editing, setEditing] = useState(false);
  const restart = useMutation({
    mutationFn: () => rpc("server_restart", { name }),
    onSettled: () => client.invalidateQueries({ queryKey: keys.servers }),
  });
  const tabs: [Tab, string][] = [
    ["tools", "Tools"],
    ["resources", "Resources"],
    ["prompts", "Prompts"],
    ...(server?.transport.kind === "stdio"
      ? ([
          ["sandbox", "Sandbox"],
          ["log", "Log"],
        ] as [Tab, string][])
      : []),
  ];
  const shown = (tools.data ?? []).filter((t) => t.name.toLowerCase().includes(filter.toLowerCase()));
  return (
    <Page
      title={name}
      actions={
        <>
          {server && <StateBadge state={server.enabled ? (server.status?.state ?? "starting") : "disabled"} />}
          {server?.status?.protocol_version && <span className="muted small">MCP {server.status.protocol_version}</span>}
          {server && (
            <button onClick={() => setEditing(!editing)} aria-expanded={editing}>
              Edit
            </button>
          )}
          {server?.enabled && server.launch_approved && (
            <button onClick={() => restart.mutate()} disabled={restart.isPending}>
              Restart
            </button>
          )}
          <Link to="/servers" className="button">
            All servers
          </Link>
        </>
      }
    >
      {server && editing && <EditServer server={server} onDone={() => setEditing(false)} />}
      <ErrorNote error={restart.error} />
      {server?.status?.error && <p className="error">{server.status.error}</p>}
      {server?.transport.kind === "http" && <OAuthPanel server={server.name} />}
      {server && (
        <div className="segmented tabs" role="tablist" aria-label="Server sections">
          {tabs.map(([t, label]) => (
            <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "on" : ""} onClick={() => setTab(t)}>
              {label}
            </button>
          ))}
        </div>
      )}
      {server && tab === "log" && <Log name={name} />}
      {server && tab === "sandbox" && <SandboxPanel server={server} />}
      {servers.isSuccess && !server && <Empty title="No such server" />}
      {server && !ready && tab !== "log" && tab !== "sandbox" && (
        <Empty title={server.enabled ? "Waiting for the server" : "This server is disabled"}>
          <p>Its tools show here once it is running.</p>
        </Empty>
      )}
      {ready && tab === "resources" && <Resources name={name} />}
      {ready && tab === "prompts" && <Prompts name={name} />}
      {ready && tab === "tools" && (
        <>
          <input className="search" placeholder="Filter tools" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Filter tools" />
          <ErrorNote error={tools.error} />
          {tools.isSuccess && shown.length === 0 && <Empty title="No tools" />}
          {tools.isSuccess && shown.length > 0 && (
            <p className="muted small" data-testid="tools-tokens">
              {shown.length} {shown.length === 1 ? "tool" : "tools"} · {count(shown.reduce((n, t) => n + t.tokens, 0))} tokens of definitions
            </p>
          )}
          <ul className="tools">
            {shown.map((t) => (
              <ToolRow key={t.name} tool={t} />
            ))}
          </ul>
        </>
      )}
    </Page>
  );
}
