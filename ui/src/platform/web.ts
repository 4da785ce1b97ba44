import type { ApiError, Event } from "../bindings";
import type { Platform } from "./types";

// The browser host: `switchboard serve`. The session is an HttpOnly cookie set
// by /api/login in exchange for the one-time code in the URL fragment.

async function login(code: string): Promise<boolean> {
  const res = await fetch("/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code }),
  });
  return res.ok;
}

export const web: Platform = {
  async call(method, params) {
    const res = await fetch("/api/rpc", {
      method: "POST",
      headers: { "content-type": "application/json", "x-switchboard": "1" },
      body: JSON.stringify({ method, params: params ?? null }),
    });
    const body: unknown = await res.json().catch(() => null);
    if (!res.ok) {
      const err = body as Partial<ApiError> | null;
      throw { code: err?.code ?? "internal", message: err?.message ?? res.statusText } satisfies ApiError;
    }
    return body;
  },

  subscribe(onEvent, onState) {
    const source = new EventSource("/api/events");
    source.onopen = () => onState(true);
    source.onerror = () => onState(false);
    source.onmessage = (m: MessageEvent<string>) => onEvent(JSON.parse(m.data) as Event);
    return () => source.close();
  },

  async signIn() {
    const match = /[#&]login=([^&]+)/.exec(window.location.hash);
    if (!match?.[1]) return false;
    const ok = await login(decodeURIComponent(match[1]));
    // The code works once: drop it from the address bar and history.
    history.replaceState(null, "", window.location.pathname + window.location.search);
    return ok;
  },

  signInWith: login,

  async openConsent(url) {
    // noopener: the consent page gets no handle on the control panel. With it
    // window.open always returns null, so a blocked pop-up cannot be told
    // apart; the panel keeps a link to the page either way.
    window.open(url, "_blank", "noopener");
    return true;
  },
};
