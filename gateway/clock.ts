import type { Clock } from '../index-repo/types.ts';

/** The source of time, passed in so that tests can move it. */
export type { Clock } from '../index-repo/types.ts';

export const systemClock: Clock = { now: () => new Date() };
