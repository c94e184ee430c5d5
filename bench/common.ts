// Helpers every benchmark uses: number formatting, counts from the command line, and the two
// measures taken in each step's process (wall and CPU seconds, peak RSS).

/** A whole number with thousands separators. */
export const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** Peak RSS of this process so far, in MiB (one decimal). */
export const maxRssMiB = () => Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;

/** `100k`, `3M`, `1_000_000`, `2e6` → a positive whole count; anything else is an error naming the flag. */
export function parseCount(flag: string, text: string | undefined, usage: string): number {
  const m = /^([0-9][0-9_,.]*(?:e[0-9]+)?)([kKmM]?)$/.exec(text ?? '');
  const base = m ? Number((m[1] as string).replace(/[_,]/g, '')) : Number.NaN;
  const value = base * (m?.[2] === 'k' || m?.[2] === 'K' ? 1e3 : m?.[2] ? 1e6 : 1);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${flag} needs a positive count (got ${text})\n${usage}`);
  return value;
}

/** Wall seconds since the call; `.cpu()` gives this process's CPU seconds (user + system) since then. */
export function stopwatch() {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const elapsed = () => (performance.now() - started) / 1000;
  elapsed.cpu = () => {
    const { user, system } = process.cpuUsage(cpuStarted);
    return (user + system) / 1e6;
  };
  return elapsed;
}
