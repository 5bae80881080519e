/**
 * `fn` over `items` with at most `limit` calls running at once; the results in the items' order.
 * One helper for every client that fetches or makes thumbnails (the Alfred workflow, the CLI's
 * Alfred format, the notebook HTML) or runs one CLI per folder.
 */
export async function mapLimit<T, U>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<U>): Promise<U[]> {
  const out = new Array<U>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
