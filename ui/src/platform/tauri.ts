import { Channel, invoke } from "@tauri-apps/api/core";
import type { ApiError, Event } from "../bindings";
import type { Platform } from "./types";

// The desktop host: the `rpc` command and an event Channel. IPC needs no sign-in.

export const tauri: Platform = {
  async call(method, params) {
    try {
      return await invoke("rpc", { method, params: params ?? null });
    } catch (e) {
      const err = e as Partial<ApiError>;
      throw { code: err.code ?? "internal", message: err.message ?? String(e) } satisfies ApiError;
    }
  },

  subscribe(onEvent, onState) {
    const channel = new Channel<Event>();
    let open = true;
    channel.onmessage = (e) => {
      if (open) onEvent(e);
    };
    invoke("subscribe", { channel }).then(
      () => onState(true),
      () => onState(false),
    );
    return () => {
      open = false;
    };
  },

  signIn: async () => true,
  signInWith: async () => true,

  async openConsent(url, flowId) {
    try {
      await invoke("open_consent", { url, flowId });
      return true;
    } catch {
      return false;
    }
  },
};
