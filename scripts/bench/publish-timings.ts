import { median } from './stats.ts';

/** One `publish_timings` line of the registry's log (LOG_TIMINGS=1): the package, the version, and a figure per stage. */
export type TimingLine = { package: string; version: string; figures: Record<string, number> };

/** Fields of the line that are not a stage's time. */
const NOT_STAGES = new Set(['time', 'level', 'event', 'package', 'version']);
/** Figures logged beside the stages that count things rather than milliseconds. */
const COUNTS = new Set(['batch']);

/** A log-line reader keeping the `publish_timings` lines in `into`; every other line is dropped unread. */
export function timingCollector(into: TimingLine[]): (line: string) => void {
  return (line) => {
    if (!line.includes('"publish_timings"')) return;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (event.event !== 'publish_timings') return;
    const figures: Record<string, number> = {};
    for (const [name, value] of Object.entries(event)) if (!NOT_STAGES.has(name) && typeof value === 'number') figures[name] = value;
    into.push({ package: String(event.package), version: String(event.version), figures });
  };
}

/** A column of the breakdown: its heading and the lines of its publishes. */
export type TimingColumn = { label: string; lines: TimingLine[] };

/** Prints, for each stage (in the order the registry logs them), its median over each column's publishes. */
export function printTimings(title: string, columns: TimingColumn[]): void {
  const stages: string[] = [];
  for (const { lines } of columns) for (const line of lines) for (const stage of Object.keys(line.figures)) if (!stages.includes(stage)) stages.push(stage);
  if (stages.length === 0) return;
  const width = Math.max(...stages.map((s) => s.length), 5);
  const head = columns.map((c) => c.label.padStart(14)).join('');
  process.stdout.write(`\n  ${title}: median of each stage, ms\n  ${'stage'.padEnd(width)}${head}\n`);
  for (const stage of stages) {
    const cells = columns.map(({ lines }) => {
      const values = lines.map((l) => l.figures[stage]).filter((v): v is number => v !== undefined);
      if (values.length === 0) return '-'.padStart(14);
      const value = median(values);
      return (COUNTS.has(stage) ? value.toFixed(0) : value.toFixed(2)).padStart(14);
    });
    process.stdout.write(`  ${stage.padEnd(width)}${cells.join('')}\n`);
  }
  process.stdout.write(`  ${'publishes'.padEnd(width)}${columns.map((c) => String(c.lines.length).padStart(14)).join('')}\n`);
}
