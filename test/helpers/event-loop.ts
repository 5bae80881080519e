/** Measures how late a 10 ms interval fires while `work` runs (the event loop's lag). */
export async function measureLag<T>(work: () => Promise<T>): Promise<{ result: T; ms: number; lags: number[]; max: number; p99: number }> {
  const lags: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lags.push(now - last - 10);
    last = now;
  }, 10);
  const t0 = performance.now();
  let result: T;
  try {
    result = await work();
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - t0;
  const sorted = [...lags].sort((a, b) => a - b);
  return { result, ms, lags, max: Math.max(0, ...lags), p99: sorted[Math.floor(sorted.length * 0.99)] ?? 0 };
}
