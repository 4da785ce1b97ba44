// A real OAuth 2 / OpenID authorization server (npm oidc-provider) for the
// end-to-end sign-in test: dynamic client registration, PKCE, resource
// indicators (RFC 8707: access tokens are bound to the MCP server's URL),
// rotating refresh tokens, introspection for the resource server, revocation,
// and its development login and consent pages.
//
//   node provider.mjs [--access-token-ttl SECONDS] [--resource-client ID:SECRET]
//
// `POST /admin/drop-access-token` (form `token=`) invalidates one access token.
//
// Prints `issuer URL` once listening on a free loopback port, then one line per
// token grant (`grant authorization_code`, `grant refresh_token`, `grant error
// invalid_grant`); never a token.
import http from 'node:http';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values } = parseArgs({
  options: {
    'access-token-ttl': { type: 'string', default: '10' },
    'resource-client': { type: 'string', default: 'mcp-resource:resource-secret' },
  },
});
const ttl = Number(values['access-token-ttl']);
const [rsId, rsSecret] = values['resource-client'].split(':');

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    // The protected MCP server, which introspects the tokens it is sent.
    { client_id: rsId, client_secret: rsSecret, grant_types: [], redirect_uris: [], response_types: [] },
  ],
  scopes: ['openid', 'offline_access', 'mcp'],
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Every resource is the MCP server; its tokens carry it as audience.
      getResourceServerInfo: (ctx, resourceIndicator) => ({
        scope: 'mcp',
        audience: resourceIndicator,
        accessTokenTTL: ttl,
        accessTokenFormat: 'opaque',
      }),
      useGrantedResource: () => true,
    },
  },
  pkce: { required: () => true },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: { AccessToken: ttl, RefreshToken: 3600, Grant: 3600, Session: 3600, Interaction: 600, AuthorizationCode: 60 },
  cookies: { keys: ['switchboard-e2e-cookie-key'] },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  // Consent covers the scopes and resource asked for (the dev consent page grants them).
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
  },
});
provider.proxy = false;

provider.on('grant.success', (ctx) => console.log(`grant ${ctx.oidc.params.grant_type}`));
provider.on('grant.error', (ctx, error) => console.log(`grant error ${error.error || error.message}`));
provider.on('registration_create.success', (ctx, client) => console.log(`registered ${client.clientId}`));
provider.on('refresh_token.destroyed', () => console.log('revoked'));
provider.on('server_error', (ctx, error) => console.error('server error', error));

// An administrator's action for the tests: invalidate one access token and
// nothing else (the standard revocation endpoint also ends the refresh tokens
// of its grant), as an authorization server does when it drops a token early.
const callback = provider.callback();
server.on('request', async (req, res) => {
  if (req.method === 'POST' && req.url === '/admin/drop-access-token') {
    let body = '';
    for await (const chunk of req) body += chunk;
    const token = await provider.AccessToken.find(new URLSearchParams(body).get('token') ?? '');
    if (token) await token.destroy();
    console.log(token ? 'access token dropped' : 'no such access token');
    res.writeHead(token ? 200 : 404).end();
    return;
  }
  callback(req, res);
});
console.log(`issuer ${issuer}`);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
