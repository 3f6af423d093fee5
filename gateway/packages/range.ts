import semver from 'semver';

/**
 * Gren's versions and ranges, and their translation into the `semver` package's terms.
 * This is the one place that knows the syntax `LOW op v op HIGH`.
 */

const versionPattern = '(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)';
const versionRegex = new RegExp(`^${versionPattern}$`);
const rangeRegex = new RegExp(`^(${versionPattern}) (<=|<) v (<=|<) (${versionPattern})$`);

/** `MAJOR.MINOR.PATCH`: three non-negative integers without leading zeros. */
export function isVersion(text: string): boolean {
  return versionRegex.test(text);
}

/** A parsed Gren range, kept with the text it came from and its `semver` equivalent. */
export type GrenRange = {
  text: string;
  low: string;
  lowInclusive: boolean;
  high: string;
  highInclusive: boolean;
  semver: semver.Range;
};

/**
 * Parses `0.6.0 <= v < 0.7.0` (either side `<` or `<=`). Returns null for anything else,
 * including a range that holds no version at all (`1.0.0 <= v < 1.0.0`).
 */
export function parseRange(text: string): GrenRange | null {
  const match = rangeRegex.exec(text);
  if (!match) return null;
  const low = match[1] as string;
  const lowOp = match[5] as string;
  const highOp = match[6] as string;
  const high = match[7] as string;
  const lowInclusive = lowOp === '<=';
  const highInclusive = highOp === '<=';
  const range = new semver.Range(`${lowInclusive ? '>=' : '>'}${low} ${highInclusive ? '<=' : '<'}${high}`);
  if (semver.minVersion(range) === null) return null;
  return { text, low, lowInclusive, high, highInclusive, semver: range };
}

/** Whether `version` lies in `range`. */
export function inRange(version: string, range: GrenRange): boolean {
  return semver.satisfies(version, range.semver);
}

/** Ascending version order, for sorting. */
export function compareVersions(a: string, b: string): number {
  return semver.compare(a, b);
}
