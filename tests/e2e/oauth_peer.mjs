// What the OAuth tests do at the authorization server (oidc-provider).
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Revokes, as the authorization server's administrator would, the refresh token the
 * gateway of `dataDir` holds for its one OAuth server (file secret store). */
export async function revokeStoredRefreshToken(issuer, dataDir) {
  const secrets = JSON.parse(readFileSync(join(dataDir, "secrets.json"), "utf8"));
  const grant = JSON.parse(Object.entries(secrets).find(([k]) => k.includes("/oauth:"))[1]);
  const revoked = await fetch(`${issuer}/token/revocation`, {
    method: "POST",
    body: new URLSearchParams({
      token: grant.credentials.token_response.refresh_token,
      token_type_hint: "refresh_token",
      client_id: grant.client_id,
    }),
  });
  if (revoked.status !== 200) throw new Error(`revocation answered ${revoked.status}`);
}
