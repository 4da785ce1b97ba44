import { useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { SandboxInfo, SandboxNetwork, ServerInfo } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { ErrorNote } from "../ui";

const WHY: Record<string, string> = {
  interpreter: "interpreter",
  package: "its package",
  argument: "argument",
  environment: "environment variable",
  working_folder: "working folder",
  cache: "package cache",
  config: "configuration",
  temp_dir: "private temp folder",
  user: "granted by you",
};

function summary(s: SandboxInfo): string {
  if (!s.enabled) return "Runs with your full rights and environment";
  const lines = s.grants.map((g) => `${g.write ? "read-write" : "read"} ${g.path}`);
  lines.push(`network ${s.network_on ? "on" : "off"} (${s.network_why})`);
  return lines.join("\n");
}

/** "sandboxed" or "unsandboxed", its grants on hover. */
export function SandboxBadge({ sandbox }: { sandbox: SandboxInfo | null }) {
  if (!sandbox) return null;
  return (
    <span
      className={`badge ${sandbox.enabled ? "state-ready" : "state-failed"}`}
      title={summary(sandbox)}
      data-sandbox={sandbox.enabled ? "on" : "off"}
    >
      {sandbox.enabled ? "sandboxed" : "unsandboxed"}
    </span>
  );
}

/** A stdio server's sandbox: what it may use, and changing it. */
export function SandboxPanel({ server }: { server: ServerInfo }) {
  const client = useQueryClient();
  const sandbox = server.sandbox;
  const [path, setPath] = useState("");
  const [write, setWrite] = useState(false);
  const save = useMutation({
    mutationFn: (change: Partial<{ enabled: boolean; allow_read: string[]; allow_write: string[]; network: SandboxNetwork }>) =>
      rpc("server_set_sandbox", {
        name: server.name,
        enabled: sandbox?.enabled ?? true,
        allow_read: sandbox?.allow_read ?? [],
        allow_write: sandbox?.allow_write ?? [],
        network: sandbox?.network ?? "inferred",
        ...change,
      }),
    onSuccess: () => setPath(""),
    onSettled: () => client.invalidateQueries({ queryKey: keys.servers }),
  });
  if (!sandbox) return null;
  const grant = () => {
    const p = path.trim();
    if (!p) return;
    if (write) save.mutate({ allow_write: [...sandbox.allow_write, p], allow_read: sandbox.allow_read.filter((r) => r !== p) });
    else save.mutate({ allow_read: [...sandbox.allow_read, p] });
  };
  const revoke = (p: string) =>
    save.mutate({ allow_read: sandbox.allow_read.filter((r) => r !== p), allow_write: sandbox.allow_write.filter((w) => w !== p) });
  return (
    <section className="card" aria-label="Sandbox" data-testid="sandbox">
      <div className="row">
        <strong>Sandbox</strong>
        <SandboxBadge sandbox={sandbox} />
        <label className="row">
          <input
            type="checkbox"
            checked={sandbox.enabled}
            onChange={(e) => save.mutate({ enabled: e.target.checked })}
            aria-label="Sandboxed"
          />
          Sandboxed
        </label>
      </div>
      {!server.launch_approved && (
        <p className="error">This server waits for your approval: its command or its sandbox changed and now allows more. Approve it on the Servers page.</p>
      )}
      <ErrorNote error={save.error} />
      {!sandbox.enabled && <p className="muted">It runs with your full rights and sees the whole environment of the gateway.</p>}
      {sandbox.enabled && (
        <>
          <p className="muted small">
            It may read the system's libraries and programs and the paths below, and nothing else. Its environment holds only PATH, HOME, LANG, its temp folder and its own variables.
          </p>
          <label className="row">
            Network
            <select
              value={sandbox.network}
              onChange={(e) => save.mutate({ network: e.target.value as SandboxNetwork })}
              aria-label="Network"
            >
              <option value="inferred">as inferred</option>
              <option value="off">off</option>
              <option value="on">on</option>
            </select>
            <span className="muted small" data-network={sandbox.network_on ? "on" : "off"}>
              {sandbox.network_on ? "on" : "off"}: {sandbox.network_why}
            </span>
          </label>
          <table className="table" aria-label="Sandbox grants">
            <thead>
              <tr>
                <th>Path</th>
                <th>Access</th>
                <th>Why</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {sandbox.grants.map((g) => (
                <tr key={g.path} data-grant={g.path}>
                  <td className="mono clip">{g.path}</td>
                  <td>{g.write ? "read-write" : "read"}</td>
                  <td className="muted">
                    {WHY[g.why] ?? g.why}
                    {g.detail ? ` (${g.detail})` : ""}
                  </td>
                  <td className="row end">
                    {g.why === "user" && (
                      <button onClick={() => revoke(g.path)} disabled={save.isPending}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              grant();
            }}
          >
            <input value={path} onChange={(e) => setPath(e.target.value)} placeholder="/path/to/folder" aria-label="Path to grant" />
            <label className="row">
              <input type="checkbox" checked={write} onChange={(e) => setWrite(e.target.checked)} />
              write
            </label>
            <button type="submit" disabled={save.isPending || !path.trim()}>
              Grant
            </button>
          </form>
        </>
      )}
    </section>
  );
}
