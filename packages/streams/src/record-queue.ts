// The queues of the consumer side: records read but not yet taken (the source), records written
// but not yet in a stored flush (deliverToLake), and the wake-ups their waiters sleep on.

// Taken items are dropped from the array in one copy once they are this many and at least half of it.
const COMPACT_AT = 4_096;

/** A first-in, first-out list that takes from its head without copying the rest each time. */
export class RecordQueue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** Items queued and not yet taken. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The oldest item, or `undefined` when the queue is empty. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    // Released at once, so that a consumed record does not wait for the next compaction.
    this.#items[this.#head] = undefined;
    this.#head++;
    this.#compact();
    return item;
  }

  /** The oldest `count` items (fewer when the queue holds fewer). */
  take(count: number): T[] {
    const taken = this.#items.slice(this.#head, this.#head + count) as T[];
    this.#head += taken.length;
    this.#compact();
    return taken;
  }

  /** Drops the newest item, if one is queued. */
  dropLast(): void {
    if (this.#items.length > this.#head) this.#items.pop();
  }

  #compact(): void {
    if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** A wake-up call: `wait()` resolves at the next `wake()`, for every waiter at once. */
export class Wakeup {
  #pending: { promise: Promise<void>; resolve: () => void } | undefined;

  /** Whether anyone waits. */
  get waiting(): boolean {
    return this.#pending !== undefined;
  }

  wait(): Promise<void> {
    if (this.#pending === undefined) {
      let resolve = (): void => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#pending = { promise, resolve };
    }
    return this.#pending.promise;
  }

  wake(): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.resolve();
  }
}
