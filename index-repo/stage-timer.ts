/**
 * Where a piece of work's time went, by stage: each `mark(stage)` adds the time since the
 * previous mark to that stage. Marks are made only where a timer was asked for; code that
 * receives none (`timer?.mark(...)`) spends nothing.
 */
export class StageTimer {
  private last: number;
  readonly stages: Record<string, number> = {};
  /** Figures that are not times (a batch's size), logged beside the stages. */
  readonly notes: Record<string, number> = {};

  constructor(start: number = performance.now()) {
    this.last = start;
  }

  /** Adds the time since the last mark (or the start) to `stage`. */
  mark(stage: string): void {
    const now = performance.now();
    this.stages[stage] = (this.stages[stage] ?? 0) + (now - this.last);
    this.last = now;
  }

  /**
   * Splits the time of `stage` into the stages of the work done meanwhile elsewhere (a group
   * commit's, shared by its plans), named `<stage>_<sub-stage>`; what they do not cover stays
   * under `stage`.
   */
  split(stage: string, stages: Readonly<Record<string, number>>): void {
    let covered = 0;
    for (const [sub, ms] of Object.entries(stages)) {
      this.stages[`${stage}_${sub}`] = (this.stages[`${stage}_${sub}`] ?? 0) + ms;
      covered += ms;
    }
    this.stages[stage] = Math.max(0, (this.stages[stage] ?? 0) - covered);
  }

  /**
   * Adds the stages of work timed elsewhere (another thread's) since the last mark, by their own
   * names; the rest of the time since the last mark (getting there and back) goes to `rest`.
   */
  absorb(stages: Readonly<Record<string, number>>, rest: string): void {
    const now = performance.now();
    let covered = 0;
    for (const [stage, ms] of Object.entries(stages)) {
      this.stages[stage] = (this.stages[stage] ?? 0) + ms;
      covered += ms;
    }
    this.stages[rest] = (this.stages[rest] ?? 0) + Math.max(0, now - this.last - covered);
    this.last = now;
  }

  note(name: string, value: number): void {
    this.notes[name] = value;
  }

  /** The stages in milliseconds, rounded to microseconds, their total, and the notes: for a log line. */
  rounded(): Record<string, number> {
    const round = (ms: number) => Math.round(ms * 1000) / 1000;
    const total = Object.values(this.stages).reduce((sum, ms) => sum + ms, 0);
    return { ...Object.fromEntries(Object.entries(this.stages).map(([stage, ms]) => [stage, round(ms)])), total: round(total), ...this.notes };
  }
}
