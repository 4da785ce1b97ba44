import type { ReactNode } from "react";
import type { Permission, ServerState } from "./bindings";

export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="page">
      <header className="page-head">
        <h1>{title}</h1>
        <div className="actions">{actions}</div>
      </header>
      {children}
    </section>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty" role="status">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

/** A form's buttons: submit, and a way back. */
export function FormActions({ submit, busy, onCancel, cancel = "Cancel" }: { submit: string; busy: boolean; onCancel: () => void; cancel?: string }) {
  return (
    <div className="row">
      <button type="submit" className="primary" disabled={busy}>
        {submit}
      </button>
      <button type="button" onClick={onCancel}>
        {cancel}
      </button>
    </div>
  );
}

export function StateBadge({ state }: { state: ServerState | "disabled" }) {
  return <span className={`badge state-${state}`}>{state}</span>;
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const text = typeof error === "object" && error && "message" in error ? String(error.message) : String(error);
  return (
    <p className="error" role="alert">
      {text}
    </p>
  );
}

const PERMS: Permission[] = ["allow", "ask", "deny"];

export function PermissionToggle({
  value,
  label,
  onChange,
}: {
  value: Permission;
  label: string;
  onChange: (p: Permission) => void;
}) {
  return (
    <div className="segmented" role="radiogroup" aria-label={label}>
      {PERMS.map((p) => (
        <button
          key={p}
          type="button"
          role="radio"
          aria-checked={value === p}
          className={value === p ? `on perm-${p}` : ""}
          onClick={() => onChange(p)}
        >
          {p}
        </button>
      ))}
    </div>
  );
}

export function time(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

/** A size in bytes, in B, KB, MB or GB (powers of 1024). */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function latency(us: number | null): string {
  if (us === null) return "–";
  return us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us} µs`;
}
