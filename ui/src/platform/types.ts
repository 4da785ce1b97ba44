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
}
