import { useEffect, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { AuditStorage, Permission, PolicyDefaults, SettingsUpdate } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { ErrorNote, Page, PermissionToggle, bytes } from "../ui";
import { type Theme, useTheme } from "../theme";

const DEFAULTS: [keyof PolicyDefaults, string][] = [
  ["read_only", "Read-only tools"],
  ["destructive", "Destructive tools"],
  ["open_world", "Open-world tools"],
  ["unannotated", "Tools without hints"],
];

/** The space the audit log takes, and whether its chain is keyed. */
function StorageFacts({ storage, limitMb }: { storage: AuditStorage; limitMb: number | null }) {
  return (
    <dl className="facts" aria-label="Audit log storage">
      <dt>Space used</dt>
      <dd>
        {bytes(storage.bytes)}
        {limitMb !== null && ` of ${bytes(limitMb * 1024 * 1024)}`} ({storage.records.toLocaleString()} records
        {storage.oldest_ts !== null && `, since ${new Date(storage.oldest_ts).toLocaleString()}`}; {storage.engine})
      </dd>
      <dt>Tamper evidence</dt>
      <dd>{storage.keyed ? "chain keyed with a key in the OS keyring" : `not keyed: ${storage.unkeyed_reason ?? "unknown"}`}</dd>
    </dl>
  );
}

export function Settings() {
  const client = useQueryClient();
  const settings = useQuery({ queryKey: keys.settings, queryFn: () => rpc("settings_get", null) });
  const [draft, setDraft] = useState<SettingsUpdate | null>(null);
  const [theme, setTheme] = useTheme();
  useEffect(() => {
    if (settings.data && !draft) setDraft({ audit: settings.data.audit, defaults: settings.data.defaults, oauth: settings.data.oauth });
  }, [settings.data, draft]);
  const save = useMutation({
    mutationFn: (u: SettingsUpdate) => rpc("settings_set", u),
    onSuccess: (s) => client.setQueryData(keys.settings, s),
  });
  const s = settings.data;
  return (
    <Page title="Settings">
      <ErrorNote error={settings.error ?? save.error} />
      <div className="card form">
        <h2>Appearance</h2>
        <div className="segmented" role="radiogroup" aria-label="Theme">
          {(["system", "light", "dark"] as Theme[]).map((t) => (
            <button key={t} role="radio" aria-checked={theme === t} className={theme === t ? "on" : ""} onClick={() => setTheme(t)}>
              {t}
            </button>
          ))}
        </div>
      </div>
      {s && draft && (
        <form
          className="card form"
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate(draft);
          }}
        >
          <h2>Gateway</h2>
          <dl className="facts">
            <dt>Listening on</dt>
            <dd className="mono">{s.listen}</dd>
            <dt>MCP endpoint</dt>
            <dd className="mono">{s.mcp_url}</dd>
            <dt>Data directory</dt>
            <dd className="mono">{s.data_dir}</dd>
          </dl>
          <h2>Audit log</h2>
          <label className="check">
            <input type="checkbox" checked={draft.audit.strict} onChange={(e) => setDraft({ ...draft, audit: { ...draft.audit, strict: e.target.checked } })} />
            Strict: a call's answer waits until its record is written
          </label>
          <label>
            Keep records for (days, empty: forever)
            <input
              type="number"
              min={1}
              value={draft.audit.retention_days ?? ""}
              onChange={(e) => setDraft({ ...draft, audit: { ...draft.audit, retention_days: e.target.value ? Number(e.target.value) : null } })}
            />
          </label>
          <label>
            Keep the log under (MB, empty: no limit)
            <input
              type="number"
              min={10}
              value={draft.audit.max_mb ?? ""}
              onChange={(e) => setDraft({ ...draft, audit: { ...draft.audit, max_mb: e.target.value ? Number(e.target.value) : null } })}
            />
          </label>
          <label>
            Store requests and results up to (KB; longer ones keep their start, length and SHA-256)
            <input
              type="number"
              min={1}
              max={65536}
              value={draft.audit.max_payload_kb}
              onChange={(e) => setDraft({ ...draft, audit: { ...draft.audit, max_payload_kb: Number(e.target.value) } })}
            />
          </label>
          <StorageFacts storage={s.audit_storage} limitMb={s.audit.max_mb} />
          <h2>Default permissions</h2>
          {DEFAULTS.map(([key, label]) => (
            <div className="row between" key={key}>
              <span>{label}</span>
              <PermissionToggle label={label} value={draft.defaults[key] as Permission} onChange={(p) => setDraft({ ...draft, defaults: { ...draft.defaults, [key]: p } })} />
            </div>
          ))}
          <label className="check">
            <input
              type="checkbox"
              checked={draft.defaults.flow_guard}
              onChange={(e) => setDraft({ ...draft, defaults: { ...draft.defaults, flow_guard: e.target.checked } })}
            />
            Toxic-flow guard: once a session received untrusted content, its outbound calls ask first
          </label>
          <label>
            Approval timeout (seconds)
            <input
              type="number"
              min={1}
              value={draft.defaults.approval_timeout_secs}
              onChange={(e) => setDraft({ ...draft, defaults: { ...draft.defaults, approval_timeout_secs: Number(e.target.value) } })}
            />
          </label>
          <h2>Sign-in to remote servers</h2>
          <label>
            Client ID Metadata Document (https URL; empty: register with each authorization server)
            <input
              type="url"
              placeholder="https://example.com/switchboard/client.json"
              value={draft.oauth?.client_metadata_url ?? ""}
              onChange={(e) => setDraft({ ...draft, oauth: { client_metadata_url: e.target.value.trim() ? e.target.value : null } })}
            />
          </label>
          <div className="row">
            <button className="primary" type="submit" disabled={save.isPending}>
              Save
            </button>
            {save.isSuccess && <span className="muted">Saved</span>}
          </div>
        </form>
      )}
    </Page>
  );
}
