import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { ClientFlows, FlowLabelsSet, FlowToolInfo, Settings } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { ErrorNote } from "../ui";

/** Query key of every client's flow labels. */
export const flowsKey = ["flows"] as const;

type Label = keyof FlowLabelsSet;

const LABELS: { key: Label; name: string; verb: string }[] = [
  { key: "private_data", name: "private data", verb: "reads private data" },
  { key: "untrusted_content", name: "untrusted content", verb: "takes in untrusted content" },
  { key: "outbound", name: "outbound", verb: "sends data out" },
];

function names(tools: FlowToolInfo[], label: Label): string[] {
  return tools.filter((t) => t[label]).map((t) => t.name);
}

/** Turns the toxic-flow guard on or off, keeping every other setting. */
function useGuard() {
  const client = useQueryClient();
  const settings = useQuery({ queryKey: keys.settings, queryFn: () => rpc("settings_get", null) });
  const set = useMutation({
    mutationFn: (on: boolean) => {
      const s = settings.data as Settings;
      return rpc("settings_set", { audit: s.audit, defaults: { ...s.defaults, flow_guard: on } });
    },
    onSuccess: (s) => client.setQueryData(keys.settings, s),
    onSettled: () => client.invalidateQueries({ queryKey: flowsKey }),
  });
  return { settings, set };
}

/** One tool's labels, each auto (as inferred), on or off. */
function ToolLabels({ tool }: { tool: FlowToolInfo }) {
  const client = useQueryClient();
  const set = useMutation({
    mutationFn: (labels: FlowLabelsSet) => rpc("tool_set_flow", { server: tool.server, tool: tool.tool, labels }),
    onSettled: () => client.invalidateQueries({ queryKey: flowsKey }),
  });
  return (
    <tr data-flow-tool={tool.name}>
      <td className="mono">{tool.name}</td>
      {LABELS.map(({ key, name }) => {
        const over = tool.overridden[key];
        const value = over === null ? "auto" : over ? "yes" : "no";
        return (
          <td key={key}>
            <select
              aria-label={`${tool.name} ${name}`}
              value={value}
              disabled={set.isPending}
              onChange={(e) => {
                const v = e.target.value;
                set.mutate({ ...tool.overridden, [key]: v === "auto" ? null : v === "yes" });
              }}
            >
              <option value="auto">{tool[key] && over === null ? "auto (yes)" : over === null ? "auto (no)" : "auto"}</option>
              <option value="yes">yes</option>
              <option value="no">no</option>
            </select>
          </td>
        );
      })}
      <td className="muted small">
        {tool.why.join("; ")}
        {set.error ? <ErrorNote error={set.error} /> : null}
      </td>
    </tr>
  );
}

/** A client whose view can read private data, take in untrusted content and send out. */
function ClientFlowCard({ flows, guard }: { flows: ClientFlows; guard: ReturnType<typeof useGuard> }) {
  return (
    <div className={`card flow${flows.toxic ? " toxic" : ""}`} data-flows={flows.client} role={flows.toxic ? "alert" : undefined}>
      {flows.toxic ? (
        <>
          <h3 className="warn">Toxic flow: {flows.client}</h3>
          <p>
            In one session, text planted in untrusted content can steer this client to read private data and send it out.
          </p>
          <ul>
            {LABELS.map(({ key, verb }) => (
              <li key={key}>
                <b>{verb}:</b> <span className="mono">{names(flows.tools, key).join(", ")}</span>
              </li>
            ))}
          </ul>
        </>
      ) : (
        <h3>{flows.client}</h3>
      )}
      <div className="row between">
        <span className={flows.guard ? "" : "muted"}>
          {flows.guard
            ? "Guard on: after an untrusted result, a session's outbound calls ask first."
            : "Guard off: outbound calls follow their permissions."}
        </span>
        {guard.settings.data && (
          <button onClick={() => guard.set.mutate(!flows.guard)} disabled={guard.set.isPending}>
            {flows.guard ? "Turn the guard off" : "Turn the guard on"}
          </button>
        )}
      </div>
      <details>
        <summary>Labelled tools ({flows.tools.length})</summary>
        <table className="table" aria-label={`Flow labels of ${flows.client}`}>
          <thead>
            <tr>
              <th>Tool</th>
              {LABELS.map(({ key, name }) => (
                <th key={key}>{name}</th>
              ))}
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {flows.tools.map((t) => (
              <ToolLabels key={t.name} tool={t} />
            ))}
          </tbody>
        </table>
      </details>
    </div>
  );
}

/** Each client's toxic flows, toxic ones first; clients without labelled tools are left out. */
export function Flows() {
  const flows = useQuery({ queryKey: flowsKey, queryFn: () => rpc("flows_list", null) });
  const guard = useGuard();
  const shown = (flows.data ?? []).filter((f) => f.tools.length > 0).sort((a, b) => Number(b.toxic) - Number(a.toxic));
  return (
    <section className="flows" aria-label="Toxic flows">
      <h2>Toxic flows</h2>
      <p className="muted small">
        Each tool is labelled from its annotations, name and description: reads private data, takes in untrusted content, sends data out. A client that has all three is flagged. Set a label by hand where the guess is wrong.
      </p>
      <ErrorNote error={flows.error ?? guard.set.error} />
      {shown.map((f) => (
        <ClientFlowCard key={f.client} flows={f} guard={guard} />
      ))}
      {flows.isSuccess && shown.length === 0 && <p className="muted">No client's view holds a labelled tool.</p>}
    </section>
  );
}
