import type { LogFields, Logger } from '../index-repo/types.ts';

/** One JSON line per event, readable alone; ids go in fields. Never a token, a code or a bundle. */
export type { LogFields, Logger } from '../index-repo/types.ts';
export { describeError } from '../index-repo/types.ts';

export function createLogger(write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  const emit = (level: string, event: string, fields: LogFields = {}) => {
    write(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }) + '\n');
  };
  return {
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
  };
}

/** A logger that keeps its lines in memory, for tests that read what was logged. */
export function memoryLogger(): Logger & { lines: LogFields[] } {
  const lines: LogFields[] = [];
  const logger = createLogger((line) => lines.push(JSON.parse(line) as LogFields));
  return Object.assign(logger, { lines });
}
