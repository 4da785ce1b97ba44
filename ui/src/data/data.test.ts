import { describe, expect, it, vi } from "vitest";
import { Ring } from "./ring";
import { Batcher } from "./batch";
import { keys, staleKeys } from "./invalidate";

describe("Ring", () => {
  it("keeps the newest items up to capacity", () => {
    const r = new Ring<number>(3);
    r.push(1, 2);
    expect(r.newestFirst()).toEqual([2, 1]);
    r.push(3, 4, 5);
    expect(r.length).toBe(3);
    expect(r.newestFirst()).toEqual([5, 4, 3]);
    expect(r.at(0)).toBe(3);
    expect(r.at(3)).toBeUndefined();
  });

  it("holds 100,000 rows without growing", () => {
    const r = new Ring<number>(100_000);
    for (let i = 0; i < 250_000; i++) r.push(i);
    expect(r.length).toBe(100_000);
    expect(r.at(0)).toBe(150_000);
    expect(r.newestFirst()[0]).toBe(249_999);
  });
});

describe("Batcher", () => {
  it("delivers a burst once per interval, in order", () => {
    vi.useFakeTimers();
    const flushed: number[][] = [];
    const b = new Batcher<number>((items) => flushed.push(items), 50);
    for (let i = 0; i < 1000; i++) b.add([i]);
    expect(flushed).toEqual([]);
    vi.advanceTimersByTime(50);
    expect(flushed.length).toBe(1);
    expect(flushed[0]?.length).toBe(1000);
    expect(flushed[0]?.[999]).toBe(999);
    b.add([]);
    vi.advanceTimersByTime(100);
    expect(flushed.length).toBe(1);
    b.add([7]);
    b.dispose();
    vi.advanceTimersByTime(100);
    expect(flushed.length).toBe(1);
    vi.useRealTimers();
  });
});

describe("staleKeys", () => {
  it("maps events to the queries they invalidate", () => {
    expect(staleKeys({ type: "approvals", pending: [] })).toContainEqual(keys.approvals);
    expect(staleKeys({ type: "audit", rows: [] })).toContainEqual(keys.stats);
    expect(staleKeys({ type: "audit_lagged", missed: 2 })).toContainEqual(keys.audit);
    expect(staleKeys({ type: "servers", servers: [] })).toContainEqual(["tools"]);
    expect(staleKeys({ type: "oauth", statuses: [] })).toContainEqual(["oauth"]);
  });
});
