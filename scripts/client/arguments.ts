import { usageError } from './cli-error.ts';

/**
 * Checks of the arguments a person types, so that a typo gets a usage error before any
 * request. The registry checks everything again; these only catch what cannot be meant.
 */

export type PackageName = { author: string; name: string; full: string };

export const roles = ['download', 'publish', 'admin'] as const;
export type Role = (typeof roles)[number];

export function packageName(raw: string): PackageName {
  const match = /^([A-Za-z0-9-]{1,39})\/([a-z0-9-]{1,64})$/.exec(raw.trim());
  if (!match) throw usageError(`"${raw}" is not a package name: expected author/name, such as gren-lang/core.`);
  const [, author = '', name = ''] = match;
  return { author, name, full: `${author}/${name}` };
}

/** A publishing identity's name: 1 to 39 letters, digits and single dashes. */
export function identityName(raw: string): string {
  const name = raw.trim();
  if (name.length > 39 || !/^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/.test(name)) {
    throw usageError(`"${raw}" is not a publishing identity: expected 1 to 39 letters, digits and single dashes, such as gren-lang.`);
  }
  return name;
}

export function version(raw: string, what = 'version'): string {
  if (!/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.test(raw.trim())) {
    throw usageError(`"${raw}" is not a ${what}: expected MAJOR.MINOR.PATCH, such as 1.0.0.`);
  }
  return raw.trim();
}

export function role(raw: string, allowed: readonly Role[] = roles): Role {
  const found = allowed.find((r) => r === raw.trim().toLowerCase());
  if (!found) throw usageError(`"${raw}" is not a role: expected ${allowed.join(', ').replace(/, ([^,]*)$/, ' or $1')}.`);
  return found;
}

export function positiveInteger(raw: string, option: string): number {
  if (!/^[1-9]\d*$/.test(raw.trim())) throw usageError(`--${option} expects a whole number of days, such as 90; got "${raw}".`);
  return Number(raw.trim());
}

/** The path of a package under /packages/, each part encoded. */
export function packagePath(pkg: PackageName): string {
  return `/packages/${encodeURIComponent(pkg.author)}/${encodeURIComponent(pkg.name)}`;
}

/** A required string option, as a usage error when missing. */
export function requiredOption(options: Record<string, string | boolean | undefined>, name: string, example: string): string {
  const value = options[name];
  if (typeof value !== 'string' || value.trim() === '') throw usageError(`--${name} is required, for example --${name} ${example}.`);
  return value.trim();
}
