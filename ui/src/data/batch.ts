/**
 * Collects items and hands them over at most once per `ms`, so a burst of
 * events costs one render, not one per event.
 */
export class Batcher<T> {
  private pending: T[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly flush: (items: T[]) => void,
    private readonly ms = 50,
  ) {}

  add(items: T[]): void {
    if (items.length === 0) return;
    this.pending.push(...items);
    if (this.timer === null) {
      this.timer = setTimeout(() => this.drain(), this.ms);
    }
  }

  drain(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    this.flush(items);
  }

  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
  }
}
