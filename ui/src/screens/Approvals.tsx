import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { ApprovalAnswer } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { Empty, ErrorNote, Page, time } from "../ui";

export function Approvals() {
  const client = useQueryClient();
  const pending = useQuery({
    queryKey: [...keys.approvals, "pending"],
    queryFn: () => rpc("approvals_list", { pending_only: true }),
  });
  const answer = useMutation({
    mutationFn: (p: { id: number; answer: ApprovalAnswer }) => rpc("approval_answer", p),
    onSettled: () => client.invalidateQueries({ queryKey: keys.approvals }),
  });
  const list = pending.data ?? [];
  return (
    <Page title="Approvals">
      <ErrorNote error={pending.error ?? answer.error} />
      {pending.isSuccess && list.length === 0 && (
        <Empty title="Nothing is waiting">
          <p>Calls to tools set to “ask” wait here for your answer. Set a tool to ask on its server's page.</p>
        </Empty>
      )}
      <ul className="approvals">
        {list.map((a) => (
          <li key={a.id} className="card" data-approval={a.id}>
            <div className="row between">
              <div>
                <strong className="mono">
                  {a.server} › {a.tool}
                </strong>
                <div className="muted">
                  from <b>{a.client}</b> at {time(a.created_at)}
                </div>
                {a.reason && (
                  <div className={a.reason.startsWith("toxic-flow guard") ? "warn" : "muted"} data-reason>
                    Asks because: {a.reason}
                  </div>
                )}
              </div>
              <div className="row">
                <button className="primary" onClick={() => answer.mutate({ id: a.id, answer: "once" })}>
                  Allow once
                </button>
                <button onClick={() => answer.mutate({ id: a.id, answer: "session" })}>Allow for session</button>
                <button onClick={() => answer.mutate({ id: a.id, answer: "always" })}>Always allow</button>
                <button className="danger" onClick={() => answer.mutate({ id: a.id, answer: "deny" })}>
                  Deny
                </button>
              </div>
            </div>
            <pre className="json">{pretty(a.exact_arguments ?? a.arguments)}</pre>
            {a.exact_arguments && a.exact_arguments !== a.arguments && (
              <div className="muted">
                The exact arguments, as the server would get them; the activity log keeps them with
                secrets masked.
              </div>
            )}
          </li>
        ))}
      </ul>
    </Page>
  );
}

function pretty(json: string | null): string {
  return json ? JSON.stringify(JSON.parse(json), null, 2) : "no arguments";
}
