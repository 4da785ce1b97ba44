import { useState } from "react";
import { Link } from "@tanstack/react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { ServerInfo } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { Empty, ErrorNote, Page, StateBadge } from "../ui";
import { AddServer } from "./AddServer";
import { count } from "./ContextMeter";
import { SandboxBadge } from "./Sandbox";

function target(s: ServerInfo): string {
  const t = s.transport;
  return t.kind === "stdio" ? [t.command, ...t.args].join(" ") : t.url;
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
  const restart = useMutation({
    mutationFn: (name: string) => rpc("server_restart", { name }),
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
      <ErrorNote error={servers.error ?? toggle.error ?? remove.error ?? approve.error ?? restart.error} />
      {servers.isSuccess && list.length === 0 && !adding && (
        <Empty title="No servers yet">
          <p>Add the MCP servers your clients should reach through Switchboard: a command it starts, the URL of a remote server, a JSON config you already have, or one from the catalog.</p>
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
              <th title="Tokens of its tool definitions as /mcp lists them">Tokens</th>
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
                <td>
                  {s.transport.kind} <SandboxBadge sandbox={s.sandbox} />
                </td>
                <td className="mono" data-protocol>{s.status?.protocol_version ?? "–"}</td>
                <td>{s.status?.tools ?? "–"}</td>
                <td className="mono" data-tokens={s.tokens ?? undefined}>
                  {s.tokens === null ? "–" : count(s.tokens)}
                </td>
                <td className="muted clip">{s.status?.error ?? ""}</td>
                <td className="row end">
                  {!s.launch_approved && (
                    <button onClick={() => approve.mutate(s.name)} title="Allow this command to run">
                      Approve
                    </button>
                  )}
                  {s.enabled && s.launch_approved && (
                    <button onClick={() => restart.mutate(s.name)} title="Stop and start it again" disabled={restart.isPending && restart.variables === s.name}>
                      Restart
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
