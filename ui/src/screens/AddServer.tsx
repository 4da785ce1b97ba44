import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { CatalogEntry, CatalogOption, NewTransport } from "../bindings";
import { errorText, rpc } from "../api";
import { keys } from "../data/invalidate";
import { FormActions } from "../ui";

type Mode = "command" | "url" | "json" | "catalog";
const MODES: [Mode, string][] = [
  ["command", "Command"],
  ["url", "URL"],
  ["json", "Paste JSON"],
  ["catalog", "Catalog"],
];

function ModeTabs({ mode, setMode }: { mode: Mode; setMode: (m: Mode) => void }) {
  return (
    <div className="segmented" role="tablist">
      {MODES.map(([m, label]) => (
        <button key={m} type="button" role="tab" aria-selected={mode === m} className={mode === m ? "on" : ""} onClick={() => setMode(m)}>
          {label}
        </button>
      ))}
    </div>
  );
}

/** Splits a command line on spaces, keeping "quoted parts" together. */
export function splitCommand(line: string): string[] {
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

export function AddServer({ onDone }: { onDone: () => void }) {
  const client = useQueryClient();
  const [mode, setMode] = useState<Mode>("command");
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
  if (mode === "catalog") {
    return (
      <div className="card form" aria-label="Add a server">
        <ModeTabs mode={mode} setMode={setMode} />
        <FromCatalog onDone={onDone} />
      </div>
    );
  }
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
      <ModeTabs mode={mode} setMode={setMode} />
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
      <FormActions submit="Add server" busy={add.isPending} onCancel={onDone} />
    </form>
  );
}

/** Search the bundled catalog, pick an entry and a way to run it, fill in its fields. */
function FromCatalog({ onDone }: { onDone: () => void }) {
  const [text, setText] = useState("");
  const [picked, setPicked] = useState<CatalogEntry | null>(null);
  const hits = useQuery({ queryKey: keys.catalog(text), queryFn: () => rpc("catalog_search", { text }) });
  if (picked) return <CatalogForm entry={picked} onBack={() => setPicked(null)} onDone={onDone} />;
  return (
    <>
      <input className="search" autoFocus value={text} onChange={(e) => setText(e.target.value)} placeholder="Search the catalog: github, browser, search…" aria-label="Search the catalog" />
      {hits.error && <p className="error" role="alert">{errorText(hits.error)}</p>}
      {hits.isSuccess && hits.data.length === 0 && <p className="muted">Nothing in the catalog matches “{text}”.</p>}
      <ul className="catalog">
        {(hits.data ?? []).map((entry) => (
          <li key={entry.id}>
            <button type="button" className="catalog-entry" onClick={() => setPicked(entry)} data-catalog={entry.id}>
              <span className="strong">{entry.suggested_name}</span> <span className="muted mono small">{entry.id}</span>
              <span className="muted">{entry.description}</span>
            </button>
          </li>
        ))}
      </ul>
      <div className="row">
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </>
  );
}

function CatalogForm({ entry, onBack, onDone }: { entry: CatalogEntry; onBack: () => void; onDone: () => void }) {
  const client = useQueryClient();
  const usable = entry.options.filter((o) => !o.unsupported);
  const [option, setOption] = useState<CatalogOption | undefined>(entry.options[entry.default_option ?? -1] ?? usable[0]);
  const [name, setName] = useState(entry.suggested_name);
  const [values, setValues] = useState<Record<string, string>>({});
  const add = useMutation({
    mutationFn: (o: CatalogOption) =>
      rpc("catalog_add", {
        id: entry.id,
        name: name.trim(),
        kind: o.kind,
        index: o.index,
        values: o.fields.map((f) => [f.kind, f.key, values[`${f.kind}:${f.key}`] ?? ""] as [string, string, string]),
      }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.servers });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (option) add.mutate(option);
  };
  return (
    <form onSubmit={submit} className="form" aria-label={`Add ${entry.id}`}>
      <p>
        <span className="strong">{entry.id}</span>
        <br />
        <span className="muted">{entry.description}</span>
      </p>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} required />
      </label>
      {entry.options.length > 1 && (
        <label>
          Run it as
          <select
            value={option ? entry.options.indexOf(option) : ""}
            onChange={(e) => setOption(entry.options[Number(e.target.value)])}
            aria-label="How to run it"
          >
            {entry.options.map((o, i) => (
              <option key={i} value={i} disabled={o.unsupported !== null}>
                {o.summary}
                {o.unsupported ? ` (${o.unsupported})` : ""}
              </option>
            ))}
          </select>
        </label>
      )}
      {!option && <p className="error">Switchboard cannot run any of this entry's packages.</p>}
      {option?.fields.map((f) => {
        const id = `${f.kind}:${f.key}`;
        return (
          <label key={id}>
            <span>
              {f.key} <span className="muted small">{f.kind === "var" ? "argument" : f.kind}{f.required ? ", required" : ""}{f.secret ? ", kept in the OS keyring" : ""}</span>
            </span>
            {f.choices.length > 0 ? (
              <select value={values[id] ?? f.default ?? ""} onChange={(e) => setValues({ ...values, [id]: e.target.value })}>
                {!f.required && <option value="">(default)</option>}
                {f.choices.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            ) : (
              <input
                type={f.secret ? "password" : "text"}
                value={values[id] ?? ""}
                placeholder={f.default ?? f.description ?? ""}
                required={f.required && !f.default}
                onChange={(e) => setValues({ ...values, [id]: e.target.value })}
              />
            )}
            {f.description && <span className="muted small">{f.description}</span>}
          </label>
        );
      })}
      {add.error && <p className="error" role="alert">{errorText(add.error)}</p>}
      <FormActions submit="Add server" busy={!option || add.isPending} onCancel={onBack} cancel="Back" />
    </form>
  );
}
