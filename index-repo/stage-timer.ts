/**
 * Where a piece of work's time went, by stage: each `mark(stage)` adds the time since the
 * previous mark to that stage. Marks are made only where a timer was asked for; code that
 * receives none (`timer?.mark(...)`) spends nothing.
 */
export class StageTimer {
  private last: number;
  readonly stages: Record<string, number> = {};

  constructor(start: number = performance.now()) {
    this.last = start;
  }

  /** Adds the time since the last mark (or the start) to `stage`. */
  mark(stage: string): void {
    const now = performance.now();
    this.stages[stage] = (this.stages[stage] ?? 0) + (now - this.last);
    this.last = now;
  }

  /** Adds another timer's stages (a group commit's, shared by its plans) to this one's, under `prefix`. */
  include(stages: Readonly<Record<string, number>>, prefix = ''): void {
    for (const [stage, ms] of Object.entries(stages)) this.stages[`${prefix}${stage}`] = (this.stages[`${prefix}${stage}`] ?? 0) + ms;
  }

  /** The stages in milliseconds, rounded to microseconds, for a log line. */
  rounded(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.stages).map(([stage, ms]) => [stage, Math.round(ms * 1000) / 1000]));
  }
}
