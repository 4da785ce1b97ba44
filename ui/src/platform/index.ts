import type { Platform } from "./types";

/** The host the UI runs in, chosen once at start. */
export async function loadPlatform(): Promise<Platform> {
  if ("__TAURI_INTERNALS__" in window) {
    return (await import("./tauri")).tauri;
  }
  return (await import("./web")).web;
}

export type { Platform };
