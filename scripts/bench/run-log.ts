import os from 'node:os';

/** The machine's load average over 1, 5 and 15 minutes, as a benchmark prints it beside its figures. */
export const loadAverage = (): string => os.loadavg().map((n) => n.toFixed(2)).join(' ');

/** Whether the machine is busy enough that figures taken now deserve care. */
export const loaded = (): boolean => (os.loadavg()[0] as number) > 1.5;

/**
 * A benchmark run's progress lines, each stamped with the time since the run began
 * (`[m:ss] text`), and a timer for one step of it.
 */
export function runLog(): { stamp(): string; say(text: string): void; timed<T>(work: () => T | Promise<T>): Promise<{ value: T; seconds: string }> } {
  const started = performance.now();
  const stamp = () => {
    const s = Math.round((performance.now() - started) / 1000);
    return `[${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}]`;
  };
  return {
    stamp,
    say: (text) => process.stdout.write(`${stamp()} ${text}\n`),
    async timed(work) {
      const t0 = performance.now();
      const value = await work();
      return { value, seconds: ((performance.now() - t0) / 1000).toFixed(1) };
    },
  };
}
