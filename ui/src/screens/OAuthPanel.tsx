import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { OAuthAttempt, SignInStarted, SignInState, SignOutResult } from "../bindings";
import { getPlatform, rpc } from "../api";
import { keys } from "../data/invalidate";
import { useSignIn } from "../data/signin";
import { ErrorNote } from "../ui";

const STATE_TEXT: Record<SignInState, string> = {
  none: "not signed in",
  signed_in: "signed in",
  needs_sign_in: "needs sign-in",
  signing_in: "signing in",
};

function time(ms: number): string {
  return new Date(ms).toLocaleTimeString();
}

function Attempt({ attempt }: { attempt: OAuthAttempt }) {
  return (
    <li className="oauth-attempt">
      <p className="small">
        <span className="strong">
          #{attempt.attempt} {attempt.kind}
        </span>{" "}
        <span className="muted">{time(attempt.started_ms)}</span> — {attempt.outcome ?? "in progress"}
      </p>
      <ol className="oauth-steps small">
        {attempt.steps.map((s, i) => (
          <li key={i}>
            <code>{s.action}</code>
            {s.status !== null && <span className={s.status < 400 ? " status-ok" : " status-error"}> {s.status}</span>}
            {s.detail && <span className="muted"> {s.detail}</span>}
          </li>
        ))}
      </ol>
    </li>
  );
}

/** OAuth status of a remote server: sign in / sign out, and the steps of the last attempts. */
export function OAuthPanel({ server }: { server: string }) {
  const client = useQueryClient();
  const detail = useQuery({ queryKey: keys.oauth(server), queryFn: () => rpc("oauth_detail", { name: server }) });
  const [started, setStarted] = useState<SignInStarted | null>(null);
  const [signedOut, setSignedOut] = useState<SignOutResult | null>(null);
  const [showSteps, setShowSteps] = useState(false);
  const refresh = () => client.invalidateQueries({ queryKey: keys.oauth(server) });
  // The consent page opens at once: its own window in the desktop app.
  const begin = useSignIn(server, (s) => {
    setStarted(s);
    setSignedOut(null);
  });
  const signOut = useMutation({
    mutationFn: () => rpc("oauth_sign_out", { name: server }),
    onSuccess: (r) => {
      setStarted(null);
      setSignedOut(r);
    },
    onSettled: refresh,
  });
  const status = detail.data?.status;
  if (!status) return <ErrorNote error={detail.error} />;
  const waiting = status.state === "signing_in" && started !== null && status.flow_id === started.flow_id;
  return (
    <section className="card oauth" aria-label="OAuth sign-in">
      <div className="row between">
        <div className="row">
          <span className="strong">OAuth</span>
          <span className={`badge oauth-${status.state}`}>{STATE_TEXT[status.state]}</span>
          {status.issuer && <span className="muted small">{status.issuer}</span>}
          {status.scopes.length > 0 && <span className="muted small">scopes: {status.scopes.join(" ")}</span>}
        </div>
        <div className="row">
          <button className="button" onClick={() => begin.mutate(false)} disabled={begin.isPending}>
            {status.state === "signed_in" ? "Sign in again" : "Sign in"}
          </button>
          {status.state !== "signed_in" && status.issuer && (
            <button
              className="link muted"
              onClick={() => begin.mutate(true)}
              disabled={begin.isPending}
              title="Register with the authorization server anew instead of reusing the earlier registration"
            >
              register anew
            </button>
          )}
          {status.state !== "none" && (
            <button className="button" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
              Sign out
            </button>
          )}
          <button className="link muted" onClick={() => setShowSteps(!showSteps)} aria-expanded={showSteps}>
            {showSteps ? "hide steps" : "steps"}
          </button>
        </div>
      </div>
      {status.reason && <p className="muted small">{status.reason}</p>}
      {signedOut && (
        <p className={`small ${signedOut.revocation === "revoked" || signedOut.revocation === "nothing_to_revoke" ? "muted" : "warn"}`} role="status">
          Signed out: {signedOut.message}.
        </p>
      )}
      {waiting && started && (
        <p className="small">
          <a
            href={started.authorization_url}
            target="_blank"
            rel="noopener noreferrer"
            onClick={(e) => {
              e.preventDefault();
              void getPlatform().openConsent(started.authorization_url, started.flow_id);
            }}
          >
            Open the sign-in page again
          </a>{" "}
          <span className="muted">— this page updates when the sign-in completes.</span>
        </p>
      )}
      <ErrorNote error={begin.error ?? signOut.error} />
      {showSteps && (
        <ol className="oauth-attempts">
          {(detail.data?.attempts ?? [])
            .slice()
            .reverse()
            .map((a) => (
              <Attempt key={a.attempt} attempt={a} />
            ))}
        </ol>
      )}
    </section>
  );
}
