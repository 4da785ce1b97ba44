import { Link } from "@tanstack/react-router";
import { useQuery } from "@tanstack/react-query";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { Empty, ErrorNote, Page, latency } from "../ui";

export function Overview() {
  const overview = useQuery({ queryKey: keys.overview, queryFn: () => rpc("overview", null) });
  const stats = useQuery({ queryKey: keys.stats, queryFn: () => rpc("audit_stats", { minutes: 60 }) });
  const o = overview.data;
  const s = stats.data;
  const peak = Math.max(1, ...(s?.per_minute.map((m) => m.calls) ?? [1]));
  const slowest = [...(s?.tools ?? [])].sort((a, b) => (b.p95_us ?? 0) - (a.p95_us ?? 0)).slice(0, 5);
  return (
    <Page title="Overview">
      <ErrorNote error={overview.error ?? stats.error} />
      {o && (
        <div className="tiles">
          <Link to="/servers" className="tile">
            <b>
              {o.ready}/{o.servers}
            </b>
            servers ready
          </Link>
          <Link to="/clients" className="tile">
            <b>{o.clients}</b>clients
          </Link>
          <Link to="/approvals" className="tile">
            <b>{o.pending_approvals}</b>waiting for approval
          </Link>
          <div className="tile" title={sessionsTitle(o.sessions)}>
            <b>{Object.values(o.sessions).reduce((a, b) => a + b, 0)}</b>live sessions
          </div>
          <div className="tile">
            <b>{s?.calls ?? 0}</b>calls in the last hour
          </div>
          <div className="tile">
            <b>{s?.errors ?? 0}</b>errors and refusals
          </div>
        </div>
      )}
      {o && o.servers === 0 && (
        <Empty title="Welcome to Switchboard">
          <p>
            Clients connect to <code>{o.mcp_url}</code>. Start by adding a server, then create a client token.
          </p>
          <Link to="/servers" className="button primary">
            Add a server
          </Link>
        </Empty>
      )}
      {s && (
        <div className="grid2">
          <div className="card">
            <h2>Calls per minute</h2>
            <div className="bars" aria-label="Calls per minute">
              {s.per_minute.map((m) => (
                <div key={m.minute} className="bar" title={`${new Date(m.minute).toLocaleTimeString()}: ${m.calls} calls, ${m.errors} errors`}>
                  <div style={{ height: `${(m.calls / peak) * 100}%` }} />
                  <div className="err" style={{ height: `${(m.errors / peak) * 100}%` }} />
                </div>
              ))}
            </div>
          </div>
          <div className="card">
            <h2>Busiest tools</h2>
            {s.tools.length === 0 && <p className="muted">No tool calls in the last hour.</p>}
            <ol className="ranked">
              {s.tools.slice(0, 5).map((t) => (
                <li key={t.server + t.tool}>
                  <span className="mono">
                    {t.server} › {t.tool}
                  </span>
                  <span>{t.calls}</span>
                </li>
              ))}
            </ol>
            <h2>Slowest tools (p95)</h2>
            <ol className="ranked">
              {slowest.map((t) => (
                <li key={t.server + t.tool}>
                  <span className="mono">
                    {t.server} › {t.tool}
                  </span>
                  <span>{latency(t.p95_us)}</span>
                </li>
              ))}
            </ol>
          </div>
        </div>
      )}
    </Page>
  );
}

/** "2025-11-25: 2, 2026-07-28: 1": live client sessions by protocol version. */
function sessionsTitle(sessions: Partial<Record<string, number>>): string {
  const parts = Object.entries(sessions).map(([version, n]) => `${version}: ${n ?? 0}`);
  return parts.length ? parts.join(", ") : "no live sessions";
}
