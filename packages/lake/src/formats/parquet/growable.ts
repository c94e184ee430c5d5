// A typed array that grows by doubling: how the Parquet writer buffers a column's values.

/** A typed array that grows by doubling; `view()` is the filled part, without copying. */
export class Growable<T extends Uint8Array | Int32Array | Float64Array | BigInt64Array> {
  data: T;
  length = 0;
  readonly #make: (size: number) => T;
  readonly #initial: number;

  /** Nothing is allocated until the first value: `capacity` is the size of that first allocation. */
  constructor(make: (size: number) => T, capacity: number) {
    this.#make = make;
    this.#initial = Math.max(16, capacity);
    this.data = make(0);
  }

  reserve(extra: number): void {
    if (this.length + extra <= this.data.length) return;
    const next = this.#make(Math.max(this.data.length * 2, this.length + extra, this.#initial));
    // biome-ignore lint/suspicious/noExplicitAny: same element type on both sides
    (next as any).set(this.data);
    this.data = next;
  }

  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}
