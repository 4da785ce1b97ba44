import { useState } from "react";
import { Link, useParams } from "@tanstack/react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Permission, ToolInfo } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { Empty, ErrorNote, Page, PermissionToggle, StateBadge } from "../ui";
import { OAuthPanel } from "./OAuthPanel";

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
      <ErrorNote error={set.error} />
    </li>
  );
}

export function ServerDetail() {
  const { name } = useParams({ from: "/servers/$name" });
  const servers = useQuery({ queryKey: keys.servers, queryFn: () => rpc("servers_list", null) });
  const server = servers.data?.find((s) => s.name === name);
  const ready = server?.status?.state === "ready";
  const tools = useQuery({
    queryKey: keys.tools(name),
    queryFn: () => rpc("tools_list", { name }),
    enabled: ready,
  });
  const [filter, setFilter] = useState("");
  const shown = (tools.data ?? []).filter((t) => t.name.toLowerCase().includes(filter.toLowerCase()));
  return (
    <Page
      title={name}
      actions={
        <>
          {server && <StateBadge state={server.enabled ? (server.status?.state ?? "starting") : "disabled"} />}
          <Link to="/servers" className="button">
            All servers
          </Link>
        </>
      }
    >
      {server?.status?.error && <p className="error">{server.status.error}</p>}
      {server?.transport.kind === "http" && <OAuthPanel server={server.name} />}
      {servers.isSuccess && !server && <Empty title="No such server" />}
      {server && !ready && (
        <Empty title={server.enabled ? "Waiting for the server" : "This server is disabled"}>
          <p>Its tools show here once it is running.</p>
        </Empty>
      )}
      {ready && (
        <>
          <input className="search" placeholder="Filter tools" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Filter tools" />
          <ErrorNote error={tools.error} />
          {tools.isSuccess && shown.length === 0 && <Empty title="No tools" />}
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
