import type { Event } from "../bindings";

/** What a host offers the UI: commands and a stream of events. */
export interface Platform {
  /** Runs a command; rejects with an ApiError ({code, message}). */
  call(method: string, params: unknown): Promise<unknown>;
  /** Delivers events until the returned function is called. */
  subscribe(onEvent: (e: Event) => void, onState: (connected: boolean) => void): () => void;
  /** Signs in when the host needs it; false when it could not. */
  signIn(): Promise<boolean>;
  /** Signs in with a code or token the user pasted. */
  signInWith(code: string): Promise<boolean>;
  /**
   * Shows a remote server's consent page for the sign-in `flowId`: its own
   * window in the desktop app (closed when the sign-in ends), a browser tab
   * otherwise. False when nothing could be opened (a blocked pop-up).
   */
  openConsent(url: string, flowId: string): Promise<boolean>;
}
