import { createContext, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import type { AuditRow, Event } from "./bindings";
import { getPlatform } from "./api";
import { Ring } from "./data/ring";
import { Batcher } from "./data/batch";
import { keys, staleKeys } from "./data/invalidate";

/** Rows the live log keeps in memory; older ones are paged from the log. */
export const LIVE_ROWS = 100_000;

interface Live {
  connected: boolean;
  rows: Ring<AuditRow>;
  /** Bumps whenever `rows` changes. */
  version: number;
}

const LiveContext = createContext<Live | null>(null);

/** Subscribes to the host's events: caches updated, live rows batched. */
export function LiveProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const rows = useRef(new Ring<AuditRow>(LIVE_ROWS)).current;
  const [version, setVersion] = useState(0);
  const [connected, setConnected] = useState(false);

  useEffect(() => {
    const batcher = new Batcher<AuditRow>((items) => {
      rows.push(...items);
      setVersion((v) => v + 1);
    }, 50);
    const onEvent = (e: Event) => {
      if (e.type === "audit") batcher.add(e.rows);
      if (e.type === "servers") client.setQueryData(keys.servers, e.servers);
      if (e.type === "approvals") client.setQueryData([...keys.approvals, "pending"], e.pending);
      if (e.type === "oauth") client.setQueryData(keys.oauthAll, e.statuses);
      for (const key of staleKeys(e)) void client.invalidateQueries({ queryKey: key });
    };
    const stop = getPlatform().subscribe(onEvent, setConnected);
    return () => {
      stop();
      batcher.dispose();
    };
  }, [client, rows]);

  const value = useMemo(() => ({ connected, rows, version }), [connected, rows, version]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export function useLive(): Live {
  const live = useContext(LiveContext);
  if (!live) throw new Error("useLive outside LiveProvider");
  return live;
}
