// PLACEHOLDER: being written (issue 2).
import type { Clock } from '../gateway/clock.ts';
import type { Logger } from '../gateway/log.ts';
import type { IndexRepo } from './types.ts';

export type OpenIndexRepoOptions = {
  gitDir: string;
  servedDir: string | null;
  clock: Clock;
  log: Logger;
  /** A name for log lines: "public" or "private". */
  name: string;
  /** Files that must exist with this content on `main`; committed at open when they differ. */
  required: Record<string, Uint8Array>;
};

export async function openIndexRepo(_options: OpenIndexRepoOptions): Promise<IndexRepo> {
  throw new Error('not written yet');
}
