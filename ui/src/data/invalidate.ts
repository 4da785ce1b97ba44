import type { Event } from "../bindings";

/** Query keys used across the app. */
export const keys = {
  overview: ["overview"] as const,
  servers: ["servers"] as const,
  tools: (server: string) => ["tools", server] as const,
  offer: (server: string) => ["offer", server] as const,
  log: (server: string) => ["log", server] as const,
  change: (server: string, tool: string) => ["change", server, tool] as const,
  rules: ["rules"] as const,
  profiles: ["profiles"] as const,
  catalog: (text: string) => ["catalog", text] as const,
  approvals: ["approvals"] as const,
  audit: ["audit"] as const,
  stats: ["stats"] as const,
  clients: ["clients"] as const,
  settings: ["settings"] as const,
  doctor: ["doctor"] as const,
  oauth: (server: string) => ["oauth", server] as const,
  /** Every remote server's sign-in status. */
  oauthAll: ["oauth"] as const,
};

/** Which cached queries an event makes stale. */
export function staleKeys(e: Event): (readonly string[])[] {
  switch (e.type) {
    case "audit":
      return [keys.stats, keys.overview];
    case "audit_lagged":
      return [keys.audit, keys.stats];
    case "approvals":
      return [keys.approvals, keys.overview];
    case "servers":
      return [keys.overview, ["tools"], ["offer"]];
    case "oauth":
      return [["oauth"], keys.servers];
  }
}
