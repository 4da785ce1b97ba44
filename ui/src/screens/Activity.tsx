import { useMemo, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { AuditRow, PayloadCut } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { useLive } from "../live";
import { Empty, ErrorNote, Page, bytes, latency, time } from "../ui";

/** Says that a payload was stored cut to the cap, with what identifies the whole. */
function CutNote({ cut, kept }: { cut: PayloadCut | null; kept: string | null }) {
  if (!cut) return null;
  return (
    <p className="note" role="note">
      Stored cut to the payload cap: the first {bytes(kept?.length ?? 0)} of {bytes(cut.size)} are kept
      {cut.sha256 && (
        <>
          , with the SHA-256 of the whole: <code className="mono">{cut.sha256}</code>
        </>
      )}
      .
    </p>
  );
}

function Detail({ id, onClose }: { id: number; onClose: () => void }) {
  const detail = useQuery({ queryKey: [...keys.audit, "detail", id], queryFn: () => rpc("audit_detail", { id }) });
  const pretty = (text: string | null) => {
    if (!text) return "–";
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  };
  const d = detail.data;
  return (
    <aside className="drawer" role="dialog" aria-label="Record detail" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <header className="row between">
        <h2>
          #{id} {d?.row.method} {d?.row.name ?? ""}
        </h2>
        <button onClick={onClose} autoFocus>
          Close
        </button>
      </header>
      <ErrorNote error={detail.error} />
      {d && (
        <>
          <dl className="facts">
            <dt>Client</dt>
            <dd>{d.row.client ?? "–"}</dd>
            <dt>Server</dt>
            <dd>{d.row.server ?? "–"}</dd>
            <dt>Status</dt>
            <dd>{d.row.status}</dd>
            <dt>Decision</dt>
            <dd>{d.row.decision}</dd>
            <dt>Latency</dt>
            <dd>{latency(d.row.latency_us)}</dd>
            <dt>Protocol</dt>
            <dd>{d.row.protocol_version ?? "–"}</dd>
          </dl>
          {d.row.error && <p className="error">{d.row.error}</p>}
          <h3>Request</h3>
          <CutNote cut={d.request_cut} kept={d.request} />
          <pre className="json">{d.request_cut ? d.request : pretty(d.request)}</pre>
          <h3>Response</h3>
          <CutNote cut={d.response_cut} kept={d.response} />
          <pre className="json">{d.response_cut ? d.response : pretty(d.response)}</pre>
        </>
      )}
    </aside>
  );
}

function exportRows(rows: AuditRow[]) {
  const blob = new Blob([rows.map((r) => JSON.stringify(r)).join("\n")], { type: "application/x-ndjson" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "switchboard-activity.jsonl";
  a.click();
  URL.revokeObjectURL(a.href);
}

export function Activity() {
  const live = useLive();
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState("");
  const [selected, setSelected] = useState<number | null>(null);
  const searching = search.trim() !== "" || status !== "";
  const history = useQuery({
    queryKey: [...keys.audit, search.trim(), status],
    queryFn: () => rpc("audit_query", { search: search.trim() || null, status: status || null, client: null, server: null, method: null, before_id: null, limit: 1000 }),
  });
  // Live rows newer than the history page, then the history.
  const rows = useMemo(() => {
    const past = history.data ?? [];
    if (searching) return past;
    const newest = past[0]?.id ?? 0;
    const fresh = live.rows.newestFirst().filter((r) => r.id > newest);
    return fresh.concat(past);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [history.data, live.version, searching]);
  const parent = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => parent.current, estimateSize: () => 36, overscan: 12 });
  return (
    <Page
      title="Activity"
      actions={
        <>
          <span className={live.connected ? "dot live" : "dot"} title={live.connected ? "live" : "disconnected"} />
          <button onClick={() => exportRows(rows)} disabled={rows.length === 0}>
            Export
          </button>
        </>
      }
    >
      <div className="row filters">
        <input className="search" type="search" placeholder="Search names, arguments and results" value={search} onChange={(e) => setSearch(e.target.value)} aria-label="Search activity" />
        <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="Status">
          <option value="">Any status</option>
          <option value="ok">ok</option>
          <option value="error">error</option>
          <option value="denied">denied</option>
          <option value="cancelled">cancelled</option>
        </select>
      </div>
      <ErrorNote error={history.error} />
      {history.isSuccess && rows.length === 0 ? (
        <Empty title={searching ? "Nothing matches" : "No activity yet"}>
          {!searching && <p>Calls from your MCP clients appear here as they happen. Add a client token on the Clients screen and point a client at the gateway.</p>}
        </Empty>
      ) : (
        <div className="log" ref={parent} role="table" aria-label="Activity log">
          <div className="log-row log-head" role="row">
            <span>Time</span>
            <span>Client</span>
            <span>Server</span>
            <span>Method</span>
            <span>Name</span>
            <span>Status</span>
            <span>Latency</span>
          </div>
          <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
            {virtual.getVirtualItems().map((item) => {
              const r = rows[item.index];
              if (!r) return null;
              return (
                <div
                  key={r.id}
                  role="row"
                  tabIndex={0}
                  data-id={r.id}
                  className={`log-row${selected === r.id ? " selected" : ""}`}
                  style={{ position: "absolute", top: 0, left: 0, right: 0, transform: `translateY(${item.start}px)` }}
                  onClick={() => setSelected(r.id)}
                  onKeyDown={(e) => e.key === "Enter" && setSelected(r.id)}
                >
                  <span className="mono">{time(r.ts)}</span>
                  <span>{r.client ?? "–"}</span>
                  <span>{r.server ?? "–"}</span>
                  <span className="mono">{r.method}</span>
                  <span className="mono">{r.name ?? ""}</span>
                  <span className={`badge status-${r.status}`}>{r.status}</span>
                  <span className="mono">{latency(r.latency_us)}</span>
                </div>
              );
            })}
          </div>
        </div>
      )}
      {selected !== null && <Detail id={selected} onClose={() => setSelected(null)} />}
    </Page>
  );
}
