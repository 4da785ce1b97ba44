import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import type { ServerInfo } from "../bindings";
import { rpc } from "../api";
import { keys } from "../data/invalidate";
import { useSignIn } from "../data/signin";
import { ErrorNote } from "../ui";

function Lost({ server }: { server: ServerInfo }) {
  const signIn = useSignIn(server.name);
  return (
    <div className="banner warn-banner" role="alert" aria-label={`${server.name} needs sign-in`}>
      <p>
        <Link to="/servers/$name" params={{ name: server.name }} className="strong">
          {server.name}
        </Link>{" "}
        needs sign-in: its tools are unavailable until then.
        {server.status?.error && <span className="muted small"> {server.status.error}</span>}
      </p>
      <button className="primary" onClick={() => signIn.mutate(false)} disabled={signIn.isPending}>
        Sign in
      </button>
      <ErrorNote error={signIn.error} />
    </div>
  );
}

/** A banner per remote server that waits for a sign-in it lost (not one the user signed out of), on every screen. */
export function SignInBanner() {
  const servers = useQuery({ queryKey: keys.servers, queryFn: () => rpc("servers_list", null) });
  const oauth = useQuery({ queryKey: keys.oauthAll, queryFn: () => rpc("oauth_list", null) });
  const signedOut = new Set((oauth.data ?? []).filter((o) => o.signed_out).map((o) => o.server));
  const lost = (servers.data ?? []).filter(
    (s) =>
      s.enabled && s.transport.kind !== "stdio" && s.status?.state === "needs_sign_in" && !signedOut.has(s.name),
  );
  if (lost.length === 0) return null;
  return (
    <div className="banners">
      {lost.map((s) => (
        <Lost key={s.name} server={s} />
      ))}
    </div>
  );
}
