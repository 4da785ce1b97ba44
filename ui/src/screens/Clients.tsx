import { Fragment, useEffect, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { ClientContext, ClientInfo, NewClient, Permission, PermissionRule } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { Empty, ErrorNote, Page, PermissionToggle, time } from "../ui";
import { ContextMeter, contextsKey, count, useContexts } from "./ContextMeter";
import { Flows, flowsKey } from "./Flows";
import { Integrations } from "./Integrations";

function snippets(c: NewClient): [string, string][] {
  const header = `Authorization: Bearer ${c.token}`;
  return [
    ["Claude Code", `claude mcp add --transport http switchboard ${c.mcp_url} --header "${header}"`],
    ["Cursor / VS Code / Windsurf (JSON)", JSON.stringify({ mcpServers: { switchboard: { url: c.mcp_url, headers: { Authorization: `Bearer ${c.token}` } } } }, null, 2)],
    ["Claude Desktop (stdio bridge)", JSON.stringify({ mcpServers: { switchboard: { command: "switchboard", args: ["connect"], env: { SWITCHBOARD_TOKEN: c.token } } } }, null, 2)],
  ];
}

/** The profile a client uses: which servers it sees. */
function ProfileSelect({ c }: { c: ClientInfo }) {
  const client = useQueryClient();
  const profiles = useQuery({ queryKey: keys.profiles, queryFn: () => rpc("profiles_list", null) });
  const set = useMutation({
    mutationFn: (profile: string | null) => rpc("client_set_profile", { client: c.name, profile }),
    onSettled: () => Promise.all([client.invalidateQueries({ queryKey: keys.clients }), client.invalidateQueries({ queryKey: contextsKey })]),
  });
  return (
    <select value={c.profile ?? ""} onChange={(e) => set.mutate(e.target.value || null)} aria-label={`Profile of ${c.name}`} title={set.error ? String(set.error) : undefined}>
      <option value="">all servers</option>
      {(profiles.data ?? []).map((p) => (
        <option key={p.name} value={p.name}>
          {p.name} ({p.servers ? p.servers.join(", ") : "all servers"})
        </option>
      ))}
    </select>
  );
}

/** Rules that apply to one client only, on top of everyone's. */
function ClientRules({ name }: { name: string }) {
  const client = useQueryClient();
  const rules = useQuery({ queryKey: keys.rules, queryFn: () => rpc("rules_list", null) });
  const servers = useQuery({ queryKey: keys.servers, queryFn: () => rpc("servers_list", null) });
  const [server, setServer] = useState("*");
  const [tool, setTool] = useState("*");
  const [permission, setPermission] = useState<Permission>("deny");
  const tools = useQuery({
    queryKey: keys.tools(server),
    queryFn: () => rpc("tools_list", { name: server }),
    enabled: server !== "*",
  });
  const set = useMutation({
    mutationFn: (r: { server: string; tool: string; permission: Permission | null }) => rpc("rule_set", { scope: { kind: "client", name }, ...r }),
    onSettled: () => Promise.all([client.invalidateQueries({ queryKey: keys.rules }), client.invalidateQueries({ queryKey: contextsKey })]),
  });
  const mine = (rules.data ?? []).filter((r: PermissionRule) => r.scope.kind === "client" && r.scope.name === name);
  return (
    <div className="rules" aria-label={`Permissions of ${name}`}>
      {mine.length === 0 && <p className="muted small">No rules of its own: {name} follows the permissions set on each server's page.</p>}
      {mine.length > 0 && (
        <ul className="plain">
          {mine.map((r) => (
            <li key={`${r.server}/${r.tool}`} className="row between">
              <span className="mono">
                {r.server === "*" ? "every server" : r.server} · {r.tool === "*" ? "every tool" : r.tool}
              </span>
              <span className="row">
                <PermissionToggle label={`${name} ${r.server} ${r.tool}`} value={r.permission} onChange={(p) => set.mutate({ server: r.server, tool: r.tool, permission: p })} />
                <button className="link muted" onClick={() => set.mutate({ server: r.server, tool: r.tool, permission: null })}>
                  remove
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      <form
        className="row"
        aria-label={`New rule for ${name}`}
        onSubmit={(e) => {
          e.preventDefault();
          set.mutate({ server, tool: server === "*" ? "*" : tool || "*", permission });
        }}
      >
        <select value={server} onChange={(e) => setServer(e.target.value)} aria-label="Server">
          <option value="*">every server</option>
          {(servers.data ?? []).map((s) => (
            <option key={s.name} value={s.name}>
              {s.name}
            </option>
          ))}
        </select>
        <select value={tool} onChange={(e) => setTool(e.target.value)} aria-label="Tool" disabled={server === "*"}>
          <option value="*">every tool</option>
          {(tools.data ?? []).map((t) => (
            <option key={t.name} value={t.name}>
              {t.name}
            </option>
          ))}
        </select>
        <PermissionToggle label="Permission" value={permission} onChange={setPermission} />
        <button type="submit">Add rule</button>
      </form>
      <ErrorNote error={rules.error ?? set.error} />
    </div>
  );
}

export function Clients() {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [created, setCreated] = useState<NewClient | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  // Polled like the apps above, so "last seen" agrees with their status.
  const list = useQuery({ queryKey: keys.clients, queryFn: () => rpc("clients_list", null), refetchInterval: 5000 });
  const contexts = useContexts();
  // Servers starting, stopping or changing their tools change every view.
  const servers = useQuery({ queryKey: keys.servers, queryFn: () => rpc("servers_list", null) });
  useEffect(() => {
    if (servers.dataUpdatedAt) {
      void client.invalidateQueries({ queryKey: contextsKey });
      void client.invalidateQueries({ queryKey: flowsKey });
    }
  }, [client, servers.dataUpdatedAt]);
  const byName = new Map((contexts.data ?? []).map((c) => [c.client, c]));
  const add = useMutation({
    mutationFn: (n: string) => rpc("client_add", { name: n }),
    onSuccess: (c) => {
      setCreated(c);
      setName("");
    },
    onSettled: () => Promise.all([client.invalidateQueries({ queryKey: keys.clients }), client.invalidateQueries({ queryKey: contextsKey })]),
  });
  const revoke = useMutation({
    mutationFn: (n: string) => rpc("client_revoke", { name: n }),
    onSettled: () => Promise.all([client.invalidateQueries({ queryKey: keys.clients }), client.invalidateQueries({ queryKey: contextsKey })]),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate(name.trim());
  };
  const rows = list.data ?? [];
  return (
    <Page title="Clients">
      <Integrations />
      <h2>Switchboard clients</h2>
      <p className="muted small">Each client has its own token. Connect sets one up for an app found above; for anything else (a script, an SDK), create one here and paste its snippet.</p>
      <form className="row card" onSubmit={submit} aria-label="New client">
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="client name, e.g. cursor" aria-label="Client name" required />
        <button className="primary" type="submit" disabled={add.isPending}>
          Create token
        </button>
      </form>
      <ErrorNote error={list.error ?? add.error ?? revoke.error ?? contexts.error} />
      {created && (
        <div className="card token" role="status">
          <p>
            Token for <b>{created.client.name}</b>, shown only now:
          </p>
          <pre className="mono selectable" data-token>
            {created.token}
          </pre>
          {snippets(created).map(([title, text]) => (
            <details key={title}>
              <summary>{title}</summary>
              <pre className="json">{text}</pre>
            </details>
          ))}
          <button onClick={() => setCreated(null)}>Done</button>
        </div>
      )}
      {list.isSuccess && rows.length === 0 && (
        <Empty title="No clients yet">
          <p>Each MCP client (Claude, Cursor, VS Code, a script) gets its own token. Create one above, then paste the snippet into the client.</p>
        </Empty>
      )}
      {rows.length > 0 && (
        <table className="table" aria-label="Clients">
          <thead>
            <tr>
              <th>Name</th>
              <th>Profile</th>
              <th title="What /mcp lists it now">Listed</th>
              <th>Created</th>
              <th>Last seen</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => (
              <Fragment key={c.name}>
                <tr data-client={c.name}>
                  <td className="strong">{c.name}</td>
                  <td>
                    <ProfileSelect c={c} />
                  </td>
                  <td>
                    <Listed ctx={byName.get(c.name)} />
                  </td>
                  <td>{new Date(c.created_at).toLocaleDateString()}</td>
                  <td>{c.last_seen_at ? time(c.last_seen_at) : "never"}</td>
                  <td className="row end">
                    <button onClick={() => setOpen(open === c.name ? null : c.name)} aria-expanded={open === c.name}>
                      Permissions
                    </button>
                    <button
                      className="danger"
                      onClick={() => {
                        if (confirm(`Revoke the token of ${c.name}? It stops working at once.`)) revoke.mutate(c.name);
                      }}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
                {open === c.name && (
                  <tr>
                    <td colSpan={6}>
                      <ClientRules name={c.name} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      {rows.length > 0 && (
        <section className="cm-list" aria-label="Context of each client">
          <h2>Tools and tokens</h2>
          <p className="muted small">
            What each client's tool definitions cost in its model's context, by server, against its budget. Past the budget, search mode lists only search_tools and call_tool (plus the tools kept always listed) and finds the rest on demand.
          </p>
          {rows.map((c) => {
            const ctx = byName.get(c.name);
            return ctx ? <ContextMeter key={c.name} ctx={ctx} /> : null;
          })}
        </section>
      )}
      {rows.length > 0 && <Flows />}
    </Page>
  );
}

/** "2 tools · 197 tokens", marked when searching or past the budget. */
function Listed({ ctx }: { ctx: ClientContext | undefined }) {
  if (!ctx) return <span className="muted">–</span>;
  return (
    <span className="row">
      <span className="mono">
        {count(ctx.listed_tools)} {ctx.listed_tools === 1 ? "tool" : "tools"} · {count(ctx.listed_tokens)} tokens
      </span>
      {ctx.searching && <span className="badge cm-searching">search</span>}
      {(ctx.over_tools || ctx.over_tokens) && <span className="badge cm-over">over budget</span>}
    </span>
  );
}
