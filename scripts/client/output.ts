import type { CliError } from './cli-error.ts';

type Stream = { write(text: string): unknown; isTTY?: boolean };

export type Progress = { update(done: number): void; finish(): void };

/**
 * Where a command writes. A person gets sentences on stdout and notes (progress, hints) on
 * stderr; with `--json` stdout carries exactly one JSON document, the answer or the error.
 */
export type Output = {
  readonly json: boolean;
  /** A line of the human answer (nothing with --json). */
  say(text: string): void;
  /** A line on stderr for a person watching: what is about to happen, hints. */
  note(text: string): void;
  /** The answer of the command: `value` with --json, else `human` lines. */
  result(value: unknown, human: () => void): void;
  /** Shows the progress of an upload of `total` bytes. */
  progress(label: string, total: number): Progress;
  error(error: CliError): void;
};

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function ttyProgress(stderr: Stream, label: string, total: number): Progress {
  let last = '';
  const draw = (done: number) => {
    const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
    const line = `${label} ${String(percent).padStart(3)}% (${formatBytes(done)} of ${formatBytes(total)})`;
    if (line !== last) stderr.write(`\r${line}\x1b[K`);
    last = line;
  };
  draw(0);
  return { update: draw, finish: () => stderr.write('\n') };
}

/** Without a terminal: a line at the start, then one per quarter reached. */
function plainProgress(stderr: Stream, label: string, total: number): Progress {
  stderr.write(`${label} ${formatBytes(total)}\n`);
  let quarter = 0;
  return {
    update(done) {
      const reached = total === 0 ? 4 : Math.floor((done / total) * 4);
      while (quarter < reached) {
        quarter += 1;
        stderr.write(`  ${quarter * 25}% (${formatBytes(Math.min(total, Math.round((total * quarter) / 4)))})\n`);
      }
    },
    finish() {},
  };
}

export function createOutput(options: { stdout: Stream; stderr: Stream; json: boolean }): Output {
  const { stdout, stderr, json } = options;
  return {
    json,
    say: (text) => {
      if (!json) stdout.write(`${text}\n`);
    },
    note: (text) => stderr.write(`${text}\n`),
    result(value, human) {
      if (json) stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      else human();
    },
    progress: (label, total) => (stderr.isTTY ? ttyProgress(stderr, label, total) : plainProgress(stderr, label, total)),
    error(error) {
      if (json) {
        stdout.write(`${JSON.stringify({ error: error.code, message: error.message }, null, 2)}\n`);
        return;
      }
      stderr.write(`Error: ${error.message} [${error.code}]\n`);
      if (error.hint) stderr.write(`${error.hint}\n`);
    },
  };
}
