import type { ApiError, Rpc } from "./bindings";
import type { Platform } from "./platform";

let platform: Platform | null = null;

/** Set once at start by main.tsx. */
export function setPlatform(p: Platform): void {
  platform = p;
}

export function getPlatform(): Platform {
  if (!platform) throw new Error("platform not loaded");
  return platform;
}

/** Runs a command with typed params and result. */
export function rpc<M extends keyof Rpc>(method: M, params: Rpc[M]["params"]): Promise<Rpc[M]["result"]> {
  return getPlatform().call(method, params) as Promise<Rpc[M]["result"]>;
}

export function isApiError(e: unknown): e is ApiError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

export function errorText(e: unknown): string {
  if (isApiError(e)) return e.message;
  return e instanceof Error ? e.message : String(e);
}
