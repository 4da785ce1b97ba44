import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Budget, ClientContext, Limit, ModeChange, ServerTokens, SetClientTools, ToolMode } from "../bindings";
import { rpc } from "../api";
import { ErrorNote } from "../ui";

/** Query key of every client's context. */
export const contextsKey = ["contexts"] as const;

/** Every client's context: what its tools cost and how they are offered. */
export function useContexts() {
  return useQuery({ queryKey: contextsKey, queryFn: () => rpc("contexts_list", null) });
}

/** 12345 → "12,345". */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** "12,345 of 20,000 tokens" or "12,345 tokens" without a limit. */
function against(n: number, limit: number | null, unit: string): string {
  return limit === null ? plural(n, unit) : `${count(n)} of ${plural(limit, unit)}`;
}

const MODES: { value: ToolMode; label: string }[] = [
  { value: "passthrough", label: "passthrough: every tool" },
  { value: "search", label: "search: search_tools and call_tool" },
  { value: "auto", label: "auto: every tool within the budget, search past it" },
];

type ToolsChange = Omit<SetClientTools, "client" | "always_list" | "unlist"> &
  Partial<Pick<SetClientTools, "always_list" | "unlist">>;

/** Changes a client's tool settings; the answer replaces its cached context. */
function useSetTools(client: string) {
  const queries = useQueryClient();
  const mutation = useMutation({
    mutationFn: (change: ToolsChange) => rpc("client_set_tools", { client, always_list: [], unlist: [], ...change }),
    // A refetch started before the change must not put the old state back.
    onMutate: () => queries.cancelQueries({ queryKey: contextsKey }, { revert: false }),
    onSuccess: (ctx) => {
      queries.setQueryData<ClientContext[]>(contextsKey, (old) => old?.map((c) => (c.client === ctx.client ? ctx : c)));
    },
    onSettled: () => queries.invalidateQueries({ queryKey: contextsKey }),
  });
  return mutation;
}

// The bar chart of a client's servers, in SVG user units.
const WIDTH = 640;
const LABEL = 150;
const VALUE = 170;
const ROW = 26;
const BAR = 14;
const AXIS = 44;

function short(name: string, max = 20): string {
  return name.length > max ? `${name.slice(0, max - 1)}…` : name;
}

/** A round axis end at or above `n`: 1, 2 or 5 times a power of ten. */
function niceMax(n: number): number {
  if (n <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  const m = [1, 2, 5, 10].find((f) => f * p >= n) ?? 10;
  return m * p;
}

/** Each server of a client's view as a horizontal bar of its tokens. */
function ServerBars({ client, servers }: { client: string; servers: ServerTokens[] }) {
  const max = niceMax(Math.max(...servers.map((s) => s.tokens), 1));
  const plot = WIDTH - LABEL - VALUE;
  const height = servers.length * ROW + AXIS;
  const x = (tokens: number) => LABEL + (tokens / max) * plot;
  const ticks = [0, max / 2, max];
  const axisY = servers.length * ROW + 4;
  return (
    <svg
      className="cm-chart"
      viewBox={`0 0 ${WIDTH} ${height}`}
      role="group"
      aria-label={`Tokens by server for ${client}`}
      data-testid={`context-servers-${client}`}
    >
      <title>{`Tokens of each server's tool definitions in the view of ${client}`}</title>
      {servers.map((s, i) => {
        const y = i * ROW;
        const summary = `${s.server}: ${plural(s.tokens, "token")}, ${plural(s.tools, "tool")}`;
        return (
          <g key={s.server} data-server={s.server} data-tokens={s.tokens} data-tools={s.tools} role="img" aria-label={summary}>
            <title>{summary}</title>
            <text x={LABEL - 8} y={y + ROW / 2} textAnchor="end" dominantBaseline="central" className="cm-label">
              {short(s.server)}
            </text>
            <rect x={LABEL} y={y + (ROW - BAR) / 2} width={Math.max(x(s.tokens) - LABEL, 1)} height={BAR} rx={2} className={`cm-fill cm-seg-${i % 6}`} />
            <text x={x(s.tokens) + 6} y={y + ROW / 2} dominantBaseline="central" className="cm-value">
              {`${plural(s.tokens, "token")} · ${plural(s.tools, "tool")}`}
            </text>
          </g>
        );
      })}
      <g className="cm-axis" aria-hidden="true">
        <line x1={LABEL} x2={LABEL + plot} y1={axisY} y2={axisY} />
        {ticks.map((t) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={axisY} y2={axisY + 4} />
            <text x={x(t)} y={axisY + 14} textAnchor="middle">
              {count(t)}
            </text>
          </g>
        ))}
        <text x={LABEL + plot / 2} y={axisY + 30} textAnchor="middle" className="cm-axis-title">
          tokens
        </text>
      </g>
    </svg>
  );
}

/** The whole view as one stacked bar, with the token budget marked on it. */
function BudgetGauge({ ctx }: { ctx: ClientContext }) {
  const limit = ctx.budget.tokens;
  const scale = Math.max(ctx.view_tokens, limit ?? 0, 1) * 1.08;
  const plot = WIDTH - 20;
  const x = (n: number) => 10 + (n / scale) * plot;
  let at = 0;
  return (
    <svg className="cm-gauge" viewBox={`0 0 ${WIDTH} 44`} role="img" aria-label={`${against(ctx.view_tokens, limit, "token")} in the full view of ${ctx.client}`}>
      <title>{`Full view: ${against(ctx.view_tokens, limit, "token")}`}</title>
      <rect x={10} y={16} width={plot} height={14} rx={3} className="cm-track" />
      {ctx.servers.map((s, i) => {
        const from = x(at);
        at += s.tokens;
        return (
          <rect key={s.server} x={from} y={16} width={Math.max(x(at) - from, 0.5)} height={14} className={`cm-fill cm-seg-${i % 6}`}>
            <title>{`${s.server}: ${plural(s.tokens, "token")}`}</title>
          </rect>
        );
      })}
      {limit !== null && (
        <g className={ctx.over_tokens ? "cm-limit over" : "cm-limit"}>
          <line x1={x(limit)} x2={x(limit)} y1={10} y2={36} />
          <text x={x(limit)} y={8} textAnchor={x(limit) > WIDTH - 90 ? "end" : x(limit) < 60 ? "start" : "middle"}>
            {`budget ${count(limit)}`}
          </text>
        </g>
      )}
    </svg>
  );
}

/** The number typed, or the kind's default when empty. */
function parseLimit(text: string): Limit | "bad" {
  const t = text.trim();
  if (!t) return { to: "default" };
  const n = Number(t);
  return Number.isInteger(n) && n >= 0 ? { to: "set", value: n } : "bad";
}

function limitText(v: number | null, byDefault: number | null): string {
  return v === null || v === byDefault ? "" : String(v);
}

/** Tool and token budgets: empty follows the kind's default. */
function BudgetForm({ ctx }: { ctx: ClientContext }) {
  const set = useSetTools(ctx.client);
  const [tools, setTools] = useState(limitText(ctx.budget.tools, ctx.default_budget.tools));
  const [tokens, setTokens] = useState(limitText(ctx.budget.tokens, ctx.default_budget.tokens));
  const [bad, setBad] = useState<string | null>(null);
  const hint = (b: Budget, k: keyof Budget) => (b[k] === null ? "default: no limit" : `default: ${count(b[k])}`);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const t = parseLimit(tools);
    const k = parseLimit(tokens);
    if (t === "bad" || k === "bad") {
      setBad("A budget is a whole number, or empty for the default.");
      return;
    }
    setBad(null);
    set.mutate({ budget_tools: t, budget_tokens: k });
  };
  return (
    <form className="row cm-budget" onSubmit={submit} aria-label={`Budget of ${ctx.client}`}>
      <label className="row">
        Tool budget
        <input inputMode="numeric" value={tools} onChange={(e) => setTools(e.target.value)} placeholder={hint(ctx.default_budget, "tools")} size={12} />
      </label>
      <label className="row">
        Token budget
        <input inputMode="numeric" value={tokens} onChange={(e) => setTokens(e.target.value)} placeholder={hint(ctx.default_budget, "tokens")} size={14} />
      </label>
      <button type="submit" disabled={set.isPending}>
        Save budget
      </button>
      {bad && (
        <span className="error" role="alert">
          {bad}
        </span>
      )}
      <ErrorNote error={set.error} />
    </form>
  );
}

/** Every tool of the view with its tokens, and whether it is always listed. */
function ToolTable({ ctx }: { ctx: ClientContext }) {
  const set = useSetTools(ctx.client);
  const [filter, setFilter] = useState("");
  // What the user just clicked, shown until the gateway's answer is in (a
  // refresh that left before the click must not flip the box back).
  const [clicked, setClicked] = useState<ReadonlyMap<string, boolean>>(new Map());
  const toggle = (name: string, on: boolean) => {
    setClicked((m) => new Map(m).set(name, on));
    // Each click's own promise (the error, if any, shows through `set.error`).
    set
      .mutateAsync(on ? { always_list: [name] } : { unlist: [name] })
      .catch(() => undefined)
      .finally(() =>
        setClicked((m) => {
          const next = new Map(m);
          next.delete(name);
          return next;
        }),
      );
  };
  const f = filter.toLowerCase();
  const rows = ctx.tools.filter((t) => t.name.toLowerCase().includes(f)).sort((a, b) => b.tokens - a.tokens || a.name.localeCompare(b.name));
  return (
    <>
      <input className="search" placeholder="Filter tools" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label={`Filter tools of ${ctx.client}`} />
      <table className="table cm-tools" aria-label={`Tools of ${ctx.client}`}>
        <thead>
          <tr>
            <th title="Listed whatever the mode">Always listed</th>
            <th>Tool</th>
            <th>Server</th>
            <th className="end">Tokens</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((t) => (
            <tr key={t.name} data-tool={t.name}>
              <td>
                <input
                  type="checkbox"
                  checked={clicked.get(t.name) ?? t.always_listed}
                  aria-label={`Always list ${t.name}`}
                  onChange={(e) => toggle(t.name, e.target.checked)}
                />
              </td>
              <td className="mono">{t.name}</td>
              <td>{t.server}</td>
              <td className="end mono" data-tokens={t.tokens}>
                {count(t.tokens)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorNote error={set.error} />
    </>
  );
}

/** What a client's tools cost, what it is listed now, and how to change that. */
export function ContextMeter({ ctx }: { ctx: ClientContext }) {
  const set = useSetTools(ctx.client);
  const over = ctx.over_tools || ctx.over_tokens;
  const always = ctx.tools.filter((t) => t.always_listed).length;
  const mode = ctx.mode_default ? "default" : ctx.mode;
  const changeMode = (v: string) => {
    const change: ModeChange = v === "default" ? { to: "default" } : { to: "set", value: v as ToolMode };
    set.mutate({ mode: change });
  };
  return (
    <section className="card cm" aria-label={`Context of ${ctx.client}`} data-testid={`context-meter-${ctx.client}`} data-mode={ctx.mode} data-searching={ctx.searching}>
      <header className="row between">
        <h2 className="row">
          {ctx.client}
          <span className={`badge ${ctx.searching ? "cm-searching" : "cm-listing"}`} data-testid={`listing-${ctx.client}`}>
            {ctx.searching ? "search" : "every tool"}
          </span>
          {over && (
            <span className="badge cm-over" role="status" data-testid={`over-budget-${ctx.client}`}>
              over budget
              {ctx.over_tools && ctx.over_tokens ? ": tools and tokens" : ctx.over_tools ? ": tools" : ": tokens"}
            </span>
          )}
        </h2>
        <label className="row muted">
          Tool mode
          <select value={mode} onChange={(e) => changeMode(e.target.value)} disabled={set.isPending} aria-label="Tool mode">
            <option value="default">{ctx.mode_default ? `default (${ctx.mode})` : "its kind's default"}</option>
            {MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
      </header>
      <ErrorNote error={set.error} />
      <p className={ctx.searching ? "cm-listed searching" : "cm-listed"}>
        {ctx.searching ? "search: lists " : "Lists "}
        <b data-testid={`listed-tools-${ctx.client}`}>{count(ctx.listed_tools)}</b> {ctx.listed_tools === 1 ? "tool" : "tools"},{" "}
        <b data-testid={`listed-tokens-${ctx.client}`}>{count(ctx.listed_tokens)}</b> tokens
        <span className="muted">
          {ctx.searching
            ? ` — search_tools and call_tool${always ? ` and ${plural(always, "always-listed tool")}` : ""}; the other tools are found with search_tools.`
            : ctx.view_tools > 0
              ? " — every tool it may use."
              : ""}
        </span>
      </p>
      {over && !ctx.searching && (
        <p className="warn small" role="note">
          Past its budget, yet every tool is still listed: switch to search or auto to list only search_tools and call_tool.
        </p>
      )}
      <p className="cm-total" data-testid={`context-total-${ctx.client}`}>
        Full view: <b>{against(ctx.view_tokens, ctx.budget.tokens, "token")}</b> · <b>{against(ctx.view_tools, ctx.budget.tools, "tool")}</b>
        {ctx.budget.tools === null && ctx.budget.tokens === null && <span className="muted"> · no budget</span>}
      </p>
      {ctx.view_tools > 0 && <BudgetGauge ctx={ctx} />}
      {ctx.servers.length > 0 ? (
        <ServerBars client={ctx.client} servers={ctx.servers} />
      ) : (
        <p className="muted">No tools in its view yet: it sees the tools of running servers its profile and permissions allow.</p>
      )}
      <BudgetForm key={`${ctx.budget.tools}/${ctx.budget.tokens}`} ctx={ctx} />
      {ctx.tools.length > 0 && (
        <details className="cm-details">
          <summary>Tools and their tokens ({count(ctx.tools.length)})</summary>
          <ToolTable ctx={ctx} />
        </details>
      )}
      <p className="muted small">
        Tokens counted in {ctx.encoding}; an estimate for other model families. Defaults: {ctx.defaults_reason}.
      </p>
    </section>
  );
}
