// Bounded concurrency for independent async work on a list: the one helper the packages share
// (promoting staged files, sampling files in a crawl).

/**
 * `fn` over every item with at most `limit` calls running at once; resolves with the results in
 * the items' order. The first failure rejects the whole call; calls already running finish, and
 * no new call starts after it.
 *
 * @example
 * ```ts
 * const sizes = await mapLimit(['a.txt', 'b.txt', 'c.txt'], 2, async (name) => name.length);
 * // [5, 5, 5]
 * ```
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i] as T, i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return out;
}
