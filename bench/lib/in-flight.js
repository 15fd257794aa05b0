/** Calls `fn` `n` times in all, `width` calls in flight at once (bench/read-cost.js, bench/write-cost.js). */
export async function inFlight(n, fn, width = 10) {
  let i = 0;
  const worker = async () => {
    while (i++ < n) await fn();
  };
  await Promise.all(Array.from({ length: width }, worker));
}
