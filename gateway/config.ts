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
};

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

function readMailFrom(env: Env): string {
  const raw = read(env, 'MAIL_FROM') ?? 'Gren Registry <registry@localhost>';
  if (!/^[^<>@\s]+@[^<>@\s]+$|<[^<>@\s]+@[^<>@\s]+>\s*$/.test(raw)) {
    throw new ConfigError('MAIL_FROM', `expected an address such as "Gren Registry <registry@example.com>", got "${raw}"`);
  }
  return raw;
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
  };
}
