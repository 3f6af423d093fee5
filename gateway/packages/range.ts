import semver from 'semver';

/**
 * Gren's versions and ranges, and their translation into the `semver` package's terms.
 * This is the one place that knows the syntax `LOW op v op HIGH`.
 */

/**
 * The greatest number a version may hold in each place. The compiler reads each as a 16-bit
 * unsigned integer (its `Gren.Version` holds three `Word16`) and silently wraps larger ones,
 * so a version beyond this could never be asked for by the compiler that published it.
 */
export const maxVersionNumber = 65535;

// At most five digits here; the numeric bound is checked after the match.
const numberPattern = '(0|[1-9]\\d{0,4})';
const versionPattern = `${numberPattern}\\.${numberPattern}\\.${numberPattern}`;
const versionRegex = new RegExp(`^${versionPattern}$`);
const rangeRegex = new RegExp(`^(${versionPattern}) (<=|<) v (<=|<) (${versionPattern})$`);

const withinBounds = (text: string) => text.split('.').every((part) => Number(part) <= maxVersionNumber);

/** `MAJOR.MINOR.PATCH`: three integers from 0 to 65535, without leading zeros. */
export function isVersion(text: string): boolean {
  return versionRegex.test(text) && withinBounds(text);
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
  if (!withinBounds(low) || !withinBounds(high)) return null;
  const lowInclusive = lowOp === '<=';
  const highInclusive = highOp === '<=';
  const range = new semver.Range(`${lowInclusive ? '>=' : '>'}${low} ${highInclusive ? '<=' : '<'}${high}`);
  if (semver.minVersion(range) === null) return null;
  return { text, low, lowInclusive, high, highInclusive, semver: range };
}

/** Whether `version` lies in `range`; one semver cannot read (beyond its safe integers) lies in none. */
export function inRange(version: string, range: GrenRange): boolean {
  return semver.satisfies(version, range.semver);
}

/**
 * Ascending version order, for sorting. Exact for any digits, so that a version registered
 * before the bounds were checked still sorts (numbers without leading zeros order by length,
 * then as text).
 */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.');
  const right = b.split('.');
  for (let i = 0; i < 3; i++) {
    const x = left[i] ?? '';
    const y = right[i] ?? '';
    if (x.length !== y.length) return x.length < y.length ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
