import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/**
 * Lines typed by the user, one at a time. Prompts go to stderr so that stdout stays the
 * command's answer. `next` resolves with null once the input is closed (end of a pipe, or `close`).
 */
export type LineReader = {
  ask(prompt: string): Promise<string | null>;
  next(): Promise<string | null>;
  close(): void;
};

export function lineReader(input: Readable & { isTTY?: boolean }, output: Writable): LineReader {
  const terminal = input.isTTY === true;
  const rl = readline.createInterface({ input, ...(terminal ? { output } : {}), terminal });
  const queued: string[] = [];
  const waiting: Array<(line: string | null) => void> = [];
  let closed = false;
  rl.on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter(line);
    else queued.push(line);
  });
  rl.on('close', () => {
    closed = true;
    for (const waiter of waiting.splice(0)) waiter(null);
  });
  const next = (): Promise<string | null> => {
    const line = queued.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (closed) return Promise.resolve(null);
    return new Promise((resolve) => waiting.push(resolve));
  };
  return {
    next,
    ask(prompt) {
      output.write(prompt);
      return next();
    },
    close() {
      rl.close();
      if (!terminal) input.pause();
    },
  };
}
