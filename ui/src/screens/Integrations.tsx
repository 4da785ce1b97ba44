import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { ClientIntegration, ConnectPreview, ImportPreview } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { ErrorNote, time } from "../ui";

/** What the panel is showing for one client kind. */
type Step = { kind: string; what: "import"; preview: ImportPreview } | { kind: string; what: "connect"; preview: ConnectPreview } | { kind: string; what: "done"; text: string };

function status(c: ClientIntegration): { text: string; cls: string } {
  switch (c.connection) {
    case "connected":
    case "changed_since":
      return c.last_seen_at ? { text: `connected · last request ${time(c.last_seen_at)}`, cls: "status-ok" } : { text: "set up · waiting for its first request (restart it)", cls: "warn" };
    case "entry_missing":
      return { text: "its Switchboard entry was removed", cls: "warn" };
    case "not_connected":
      return { text: "not connected", cls: "muted" };
  }
}

function ImportRows({ preview }: { preview: ImportPreview }) {
  return (
    <ul className="plain" aria-label="Servers to import">
      {preview.servers.map((s) => (
        <li key={s.entry} data-entry={s.entry}>
          {s.action === "add" ? (
            <span>
              <b>+ {s.server}</b> <span className="badge">{s.transport}</span> <span className="mono small">{s.target}</span>
              {s.renamed && <span className="muted small"> (named {s.server}: "{s.entry}" was taken)</span>}
              {!s.enabled && <span className="muted small"> [off in the client]</span>}
            </span>
          ) : (
            <span className="muted">
              = {s.entry}: the same as the server "{s.server}", merged
            </span>
          )}
          {s.warnings.map((w) => (
            <div key={w} className="muted small">
              note: {w}
            </div>
          ))}
          {s.from_env.map((e) => (
            <div key={e} className="warn small">
              from the gateway's environment: {e} (sent to the server)
            </div>
          ))}
        </li>
      ))}
      {preview.skipped.map((s) => (
        <li key={s.entry} className="muted">
          − {s.entry}: skipped, {s.reason}
        </li>
      ))}
      {preview.problems.map((p) => (
        <li key={p} className="warn">
          {p}
        </li>
      ))}
      {preview.servers.length + preview.skipped.length + preview.problems.length === 0 && <li className="muted">It has no servers of its own.</li>}
    </ul>
  );
}

function Diff({ text, label }: { text: string; label: string }) {
  return (
    <pre className="json diff" aria-label={label}>
      {text.split("\n").map((line, i) => (
        <div key={i} className={line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : ""}>
          {line}
        </div>
      ))}
    </pre>
  );
}

function usesEnv(p: ImportPreview): boolean {
  return p.servers.some((s) => s.action === "add" && s.from_env.length > 0);
}

/** A preview and the button that carries it out. */
function Review({ step, app, busy, onApply, onCancel }: { step: Step; app: string; busy: boolean; onApply: (allowEnv: boolean) => void; onCancel: () => void }) {
  const [allowEnv, setAllowEnv] = useState(false);
  if (step.what === "done") {
    return (
      <div className="card" role="status" aria-label="Result">
        <h3>{app}</h3>
        <p>{step.text}</p>
        <button onClick={onCancel}>Done</button>
      </div>
    );
  }
  const imports = step.what === "import" ? step.preview : step.preview.import;
  const env = usesEnv(imports);
  const added = imports.servers.filter((s) => s.action === "add").length;
  return (
    <div className="card" role="region" aria-label={step.what === "import" ? "Import preview" : "Connect preview"}>
      <h3>{step.what === "import" ? `Import the servers of ${app}` : `Connect ${app} to Switchboard`}</h3>
      {step.what === "connect" ? (
        <>
          <p>
            This change to <span className="mono">{step.preview.path}</span> points the client at Switchboard {step.preview.mode === "http" ? "over HTTP" : "through the switchboard connect stdio bridge"}. The original is kept as a backup; Disconnect puts it back byte for byte.
          </p>
          <Diff text={step.preview.diff} label="Change to the config file" />
          <p className="muted small">{step.preview.token}</p>
          {step.preview.removed.length > 0 && <p className="small">Served by Switchboard from now on, so taken out of the file: {step.preview.removed.join(", ")}.</p>}
          {step.preview.kept.map((k) => (
            <p key={k.entry} className="muted small">
              Left in the file: {k.entry} ({k.reason})
            </p>
          ))}
          <h3>Its servers</h3>
        </>
      ) : (
        <p>Nothing is changed until you import. Stdio servers start once you approve their commands on the Servers screen.</p>
      )}
      <ImportRows preview={imports} />
      {env && (
        <label className="row warn">
          <input type="checkbox" checked={allowEnv} onChange={(e) => setAllowEnv(e.target.checked)} /> Send these values of the gateway's environment to those servers
        </label>
      )}
      <div className="row">
        <button className="primary" disabled={busy || (env && !allowEnv) || (step.what === "import" && added === 0)} onClick={() => onApply(allowEnv)}>
          {step.what === "import" ? `Import ${added} ${added === 1 ? "server" : "servers"}` : "Write the change and connect"}
        </button>
        <button onClick={onCancel}>Cancel</button>
      </div>
    </div>
  );
}

function importedText(p: ImportPreview): string {
  const parts = [`Imported ${p.added.length} ${p.added.length === 1 ? "server" : "servers"}${p.added.length ? `: ${p.added.join(", ")}` : ""}.`];
  if (p.secrets.length) parts.push(`Secrets went to the keyring: ${p.secrets.join(", ")}.`);
  if (p.need_approval.length) parts.push(`Approve their commands on the Servers screen to start them: ${p.need_approval.join(", ")}.`);
  return parts.join(" ");
}

export const integrationsKey = ["integrations"] as const;

/** The MCP clients of this machine: import their servers, connect or disconnect them. */
export function Integrations() {
  const client = useQueryClient();
  const list = useQuery({ queryKey: integrationsKey, queryFn: () => rpc("integrations_list", null), refetchInterval: 5000 });
  const [step, setStep] = useState<Step | null>(null);
  const refresh = () => Promise.all([client.invalidateQueries({ queryKey: integrationsKey }), client.invalidateQueries({ queryKey: keys.clients }), client.invalidateQueries({ queryKey: keys.servers })]);
  const preview = useMutation({
    mutationFn: async ({ kind, what }: { kind: string; what: "import" | "connect" }): Promise<Step> =>
      what === "import"
        ? { kind, what, preview: await rpc("integration_import", { kind, apply: false, allow_env: false }) }
        : { kind, what, preview: await rpc("integration_connect", { kind, apply: false, stdio: false, keep_servers: false, allow_env: false }) },
    onSuccess: setStep,
  });
  const apply = useMutation({
    mutationFn: async ({ s, allowEnv }: { s: Step; allowEnv: boolean }): Promise<Step> => {
      if (s.what === "import") {
        const done = await rpc("integration_import", { kind: s.kind, apply: true, allow_env: allowEnv });
        return { kind: s.kind, what: "done", text: importedText(done) };
      }
      const done = await rpc("integration_connect", { kind: s.kind, apply: true, stdio: false, keep_servers: false, allow_env: allowEnv });
      const text = done.already_connected ? "It already points at Switchboard: nothing to do." : `Connected: ${done.path} now points at Switchboard${done.backup ? ` (the original is kept as ${done.backup})` : ""}. ${importedText(done.import)} Restart the client to use it.`;
      return { kind: s.kind, what: "done", text };
    },
    onSuccess: setStep,
    onSettled: refresh,
  });
  const disconnect = useMutation({
    mutationFn: (kind: string) => rpc("integration_disconnect", { kind }),
    onSuccess: (done, kind) => setStep({ kind, what: "done", text: `${done.summary}${done.removed_client ? ` Client "${done.removed_client}" was removed; its token no longer works.` : ""} Servers imported into Switchboard stay there.` }),
    onSettled: refresh,
  });
  const rows = (list.data ?? []).filter((c) => c.installed || c.config_exists || c.connection !== "not_connected");
  const busy = preview.isPending || apply.isPending || disconnect.isPending;
  return (
    <section aria-label="Apps on this machine">
      <h2>Apps on this machine</h2>
      <ErrorNote error={list.error ?? preview.error ?? apply.error ?? disconnect.error} />
      {list.isSuccess && rows.length === 0 && <p className="muted">No MCP client (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf, Codex, Gemini CLI, Zed) was found here. Create a client below and paste its snippet instead.</p>}
      {rows.length > 0 && (
        <table className="table" aria-label="MCP clients found">
          <thead>
            <tr>
              <th>App</th>
              <th>Config</th>
              <th>Its servers</th>
              <th>Switchboard</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => {
              const s = status(c);
              const connected = c.connection === "connected" || c.connection === "changed_since" || c.connection === "entry_missing";
              return (
                <tr key={c.kind} data-kind={c.kind}>
                  <td className="strong">{c.name}</td>
                  <td className="mono small" title={c.config_path}>
                    {c.config_exists ? c.config_path : <span className="muted">none yet</span>}
                    {c.config_error && <div className="warn">{c.config_error}</div>}
                  </td>
                  <td>{c.servers.length === 0 ? <span className="muted">none</span> : c.servers.join(", ")}</td>
                  <td>
                    <span className={`badge ${s.cls}`} data-connection={c.connection}>
                      {s.text}
                    </span>
                  </td>
                  <td className="row end">
                    {c.servers.length > c.unsupported.length && (
                      <button disabled={busy || !!c.config_error} onClick={() => preview.mutate({ kind: c.kind, what: "import" })}>
                        Import
                      </button>
                    )}
                    {connected ? (
                      <button
                        className="danger"
                        disabled={busy}
                        onClick={() => {
                          if (confirm(`Put ${c.name}'s config back as it was before it was connected?`)) disconnect.mutate(c.kind);
                        }}
                      >
                        Disconnect
                      </button>
                    ) : (
                      <button className="primary" disabled={busy || !!c.config_error} onClick={() => preview.mutate({ kind: c.kind, what: "connect" })}>
                        Connect
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {step && (
        <div data-step-kind={step.kind}>
          <Review key={`${step.kind}-${step.what}`} step={step} app={(list.data ?? []).find((c) => c.kind === step.kind)?.name ?? step.kind} busy={busy} onApply={(allowEnv) => apply.mutate({ s: step, allowEnv })} onCancel={() => setStep(null)} />
        </div>
      )}
    </section>
  );
}
