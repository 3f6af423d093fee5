import net from 'node:net';
import path from 'node:path';

/** Everything the registry reads from its environment, read once at start. */
export type Config = {
  port: number;
  host: string;
  /** Absolute path of the folder holding every piece of state. */
  dataDir: string;
  /** Public base URL, without a trailing slash. */
  registryUrl: string;
  smtpUrl: string | null;
  mailFrom: string;
  packagesSiteUrl: string | null;
  webhookUrls: string[];
  webhookSecret: string | null;
  /** Which peers may say, in X-Forwarded-For, whom they forward; null: nobody (the socket's address is the client's). */
  trustProxy: TrustProxy | null;
  /** Serving Git: processes at once, requests that may wait for one, seconds a request may take, nice value. */
  git: { processes: number; queue: number; timeoutSeconds: number; nice: number };
};

/** A block of addresses: `10.0.0.0/8`, or one address as a /32 (IPv4) or /128 (IPv6). */
export type AddressRange = { address: string; prefix: number; family: 'ipv4' | 'ipv6' };

/**
 * `TRUST_PROXY`: a number of proxy hops in front of the gateway (each adds one entry to
 * X-Forwarded-For), or the addresses of the proxies.
 */
export type TrustProxy = { hops: number } | { proxies: AddressRange[] };

export class ConfigError extends Error {
  variable: string;
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | null {
  const value = env[name]?.trim();
  return value ? value : null;
}

function readPort(env: Env): number {
  const raw = read(env, 'PORT');
  if (raw === null) return 3000;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw new ConfigError('PORT', `expected a port number from 0 to 65535, got "${raw}"`);
  }
  return port;
}

function readUrl(env: Env, name: string, protocols: string[]): string | null {
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

function readInteger(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function readMailFrom(env: Env): string {
  const raw = read(env, 'MAIL_FROM') ?? 'Gren Registry <registry@localhost>';
  if (!/^[^<>@\s]+@[^<>@\s]+$|<[^<>@\s]+@[^<>@\s]+>\s*$/.test(raw)) {
    throw new ConfigError('MAIL_FROM', `expected an address such as "Gren Registry <registry@example.com>", got "${raw}"`);
  }
  return raw;
}

const maxHops = 10;

function readTrustProxy(env: Env): TrustProxy | null {
  const raw = read(env, 'TRUST_PROXY');
  if (raw === null) return null;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > maxHops) throw new ConfigError('TRUST_PROXY', `expected at most ${maxHops} proxy hops, got ${raw}`);
    return hops === 0 ? null : { hops };
  }
  return { proxies: raw.split(',').map((entry) => readRange(entry.trim())) };
}

function readRange(entry: string): AddressRange {
  const [address = '', prefixText, ...rest] = entry.split('/');
  const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  const family = net.isIPv4(plain) ? 'ipv4' : net.isIPv6(plain) ? 'ipv6' : null;
  const bits = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? bits : /^\d+$/.test(prefixText) ? Number(prefixText) : NaN;
  if (family === null || rest.length > 0 || !(prefix >= 0 && prefix <= bits)) {
    throw new ConfigError(
      'TRUST_PROXY',
      `expected a number of proxy hops, or a comma-separated list of proxy addresses or blocks such as 10.0.0.0/8 or fd00::/8, got "${entry}"`,
    );
  }
  return { address: plain.toLowerCase(), prefix, family };
}

/** Turns the environment into a typed configuration; every error names its variable. */
export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  const port = readPort(env);
  const host = read(env, 'HOST') ?? '127.0.0.1';
  const dataDir = path.resolve(cwd, read(env, 'REGISTRY_DATA') ?? './data');
  const registryUrl = readUrl(env, 'REGISTRY_URL', ['http:', 'https:']) ?? `http://localhost:${port}`;
  const webhookUrls = (read(env, 'WEBHOOK_URLS') ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '')
    .map((u) => readUrl({ WEBHOOK_URLS: u }, 'WEBHOOK_URLS', ['http:', 'https:']) as string);
  const webhookSecret = read(env, 'WEBHOOK_SECRET');
  if (webhookUrls.length > 0 && webhookSecret === null) {
    throw new ConfigError('WEBHOOK_SECRET', 'must be set when WEBHOOK_URLS is, to sign the deliveries');
  }
  return {
    port,
    host,
    dataDir,
    registryUrl,
    smtpUrl: readUrl(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    mailFrom: readMailFrom(env),
    packagesSiteUrl: readUrl(env, 'PACKAGES_SITE_URL', ['http:', 'https:']),
    webhookUrls,
    webhookSecret,
    trustProxy: readTrustProxy(env),
    git: {
      processes: readInteger(env, 'GIT_PROCESSES', 4, 1, 256),
      queue: readInteger(env, 'GIT_QUEUE', 64, 0, 100_000),
      timeoutSeconds: readInteger(env, 'GIT_TIMEOUT_SECONDS', 300, 1, 86_400),
      nice: readInteger(env, 'GIT_NICE', 10, 0, 19),
    },
  };
}
