/** A bounded buffer of the newest items; pushing past capacity drops the oldest. */
export class Ring<T> {
  private items: (T | undefined)[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new Error("capacity must be positive");
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  push(...values: T[]): void {
    for (const v of values) {
      const end = (this.start + this.count) % this.capacity;
      this.items[end] = v;
      if (this.count < this.capacity) this.count++;
      else this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Item `i`, 0 being the oldest kept. */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.count) return undefined;
    return this.items[(this.start + i) % this.capacity];
  }

  /** Newest first, as the live log shows them. */
  newestFirst(): T[] {
    const out: T[] = [];
    for (let i = this.count - 1; i >= 0; i--) out.push(this.at(i) as T);
    return out;
  }

  clear(): void {
    this.items = new Array<T | undefined>(this.capacity);
    this.start = 0;
    this.count = 0;
  }
}
