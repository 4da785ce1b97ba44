import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { SignInStarted } from "../bindings";
import { getPlatform, rpc } from "../api";
import { keys } from "./invalidate";

/** Starts a sign-in to `server` and opens its consent page (the desktop app's own window, or a new tab). */
export function useSignIn(server: string, onStarted?: (s: SignInStarted) => void) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (registerAnew: boolean = false) =>
      rpc("oauth_begin", { name: server, client_id: null, client_secret: null, scopes: [], register_anew: registerAnew }),
    onSuccess: (s) => {
      onStarted?.(s);
      void getPlatform().openConsent(s.authorization_url, s.flow_id);
    },
    onSettled: () => client.invalidateQueries({ queryKey: keys.oauth(server) }),
  });
}
