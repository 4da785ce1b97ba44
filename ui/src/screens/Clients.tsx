import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { NewClient } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { Empty, ErrorNote, Page, time } from "../ui";

function snippets(c: NewClient): [string, string][] {
  const header = `Authorization: Bearer ${c.token}`;
  return [
    ["Claude Code", `claude mcp add --transport http switchboard ${c.mcp_url} --header "${header}"`],
    ["Cursor / VS Code / Windsurf (JSON)", JSON.stringify({ mcpServers: { switchboard: { url: c.mcp_url, headers: { Authorization: `Bearer ${c.token}` } } } }, null, 2)],
    ["Claude Desktop (stdio bridge)", JSON.stringify({ mcpServers: { switchboard: { command: "switchboard", args: ["connect"], env: { SWITCHBOARD_TOKEN: c.token } } } }, null, 2)],
  ];
}

export function Clients() {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [created, setCreated] = useState<NewClient | null>(null);
  const list = useQuery({ queryKey: keys.clients, queryFn: () => rpc("clients_list", null) });
  const add = useMutation({
    mutationFn: (n: string) => rpc("client_add", { name: n }),
    onSuccess: (c) => {
      setCreated(c);
      setName("");
    },
    onSettled: () => client.invalidateQueries({ queryKey: keys.clients }),
  });
  const revoke = useMutation({
    mutationFn: (n: string) => rpc("client_revoke", { name: n }),
    onSettled: () => client.invalidateQueries({ queryKey: keys.clients }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate(name.trim());
  };
  const rows = list.data ?? [];
  return (
    <Page title="Clients">
      <form className="row card" onSubmit={submit} aria-label="New client">
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="client name, e.g. cursor" aria-label="Client name" required />
        <button className="primary" type="submit" disabled={add.isPending}>
          Create token
        </button>
      </form>
      <ErrorNote error={list.error ?? add.error ?? revoke.error} />
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
              <th>Created</th>
              <th>Last seen</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => (
              <tr key={c.name}>
                <td className="strong">{c.name}</td>
                <td>{c.profile ?? "all servers"}</td>
                <td>{new Date(c.created_at).toLocaleDateString()}</td>
                <td>{c.last_seen_at ? time(c.last_seen_at) : "never"}</td>
                <td className="end">
                  <button className="danger" onClick={() => revoke.mutate(c.name)}>
                    Revoke
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
