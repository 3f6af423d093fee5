/**
 * How one variable of the environment is read: trimmed, empty as unset, each kind of value
 * checked, and every error naming its variable (`ConfigError`). What the registry and a replica
 * read is in config.ts.
 */

export class ConfigError extends Error {
  variable: string;
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

export type Env = Record<string, string | undefined>;

export function read(env: Env, name: string): string | null {
  const value = env[name]?.trim();
  return value ? value : null;
}

export function readPort(env: Env, name: string): number | null {
  const raw = read(env, name);
  if (raw === null) return null;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw new ConfigError(name, `expected a port number from 0 to 65535, got "${raw}"`);
  }
  return port;
}

export function readUrl(env: Env, name: string, protocols: string[]): string | null {
  const raw = read(env, name);
  if (raw === null) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `expected a URL, got "${redactUrl(raw)}"`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}, got "${redactUrl(raw)}"`);
  }
  return raw.replace(/\/+$/, '');
}

/** Hides the password of a URL such as smtp://user:pass@host, for messages and logs. */
export function redactUrl(raw: string): string {
  return raw.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
}

export function readInteger(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** A positive number (decimals allowed) of the given unit, or the default. */
export function readPositive(env: Env, name: string, fallback: number, unit: string, integer = false): number {
  const raw = read(env, name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!(integer ? /^\d+$/ : /^\d+(\.\d+)?$/).test(raw) || !(value > 0) || value > 1e9) {
    throw new ConfigError(name, `expected a positive ${integer ? 'whole ' : ''}number of ${unit}, got "${raw}"`);
  }
  return value;
}

/** A setting that is on or off: unset, `0` or `false` is off; `1` or `true` is on. */
export function readSwitch(env: Env, name: string): boolean {
  const raw = read(env, name)?.toLowerCase() ?? null;
  if (raw === null || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(name, `expected 1 or 0 (true or false), got "${raw}"`);
}
