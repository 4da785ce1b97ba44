import { useQuery } from "@tanstack/react-query";
import type { DoctorCheck, Severity } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { Empty, ErrorNote, Page } from "../ui";

const GROUPS: [Severity, string][] = [
  ["problem", "Problems"],
  ["warning", "Warnings"],
  ["info", "Worth knowing"],
  ["ok", "Fine"],
];

function CheckTable({ label, checks }: { label: string; checks: DoctorCheck[] }) {
  return (
    <table className="table" aria-label={label}>
      <thead>
        <tr>
          <th>Area</th>
          <th>Subject</th>
          <th>Finding</th>
        </tr>
      </thead>
      <tbody>
        {checks.map((c, i) => (
          <tr key={i} data-check={c.severity}>
            <td>
              <span className={`badge severity-${c.severity}`}>{c.area}</span>
            </td>
            <td className="strong mono">{c.subject}</td>
            <td>
              {c.detail}
              {c.fix && c.severity !== "ok" && (
                <p className="fix small">
                  <span className="strong">Fix:</span> {c.fix}
                </p>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Doctor() {
  const report = useQuery({ queryKey: keys.doctor, queryFn: () => rpc("doctor", null) });
  const checks = report.data?.checks ?? [];
  const issues = checks.filter((c) => c.severity === "problem" || c.severity === "warning").length;
  return (
    <Page
      title="Doctor"
      actions={
        <button onClick={() => void report.refetch()} disabled={report.isFetching}>
          {report.isFetching ? "Checking…" : "Check again"}
        </button>
      }
    >
      <ErrorNote error={report.error} />
      {report.isSuccess && issues === 0 && (
        <Empty title="Everything looks fine">
          <p>No problems or warnings were found. The checks below show what was looked at.</p>
        </Empty>
      )}
      {GROUPS.map(([severity, label]) => {
        const group = checks.filter((c) => c.severity === severity);
        if (group.length === 0) return null;
        return (
          <div key={severity} className="doctor-group">
            <h2>
              {label} <span className="muted">({group.length})</span>
            </h2>
            <CheckTable label={label} checks={group} />
          </div>
        );
      })}
    </Page>
  );
}
