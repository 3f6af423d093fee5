import net from 'node:net';
import path from 'node:path';
import type { RateLimit } from './rate-limit.ts';
import { decodeWeight, defaultBundleLimits } from './packages/bundle.ts';
import type { GitRemote } from '../index-repo/git-remote.ts';
import { ConfigError, read, readInteger, readPort, readPositive, readSwitch, readUrl, redactUrl, type Env } from './config-readers.ts';

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
  /** Whether each publish logs where its time went, by stage (`publish_timings`). */
  logTimings: boolean;
  /** Which peers may say, in X-Forwarded-For, whom they forward; null: nobody (the socket's address is the client's). */
  trustProxy: TrustProxy | null;
  /** Serving Git: processes at once, requests that may wait for one, seconds a request may take, nice value. */
  git: { processes: number; queue: number; timeoutSeconds: number; nice: number };
  /** The nice value of each index repository's writer thread (Linux), so that publishing yields the CPU to reads. */
  writerNice: number;
  server: ServerLimits;
  uploads: UploadLimits;
  /** Publishes per user and per publishing identity: a burst, then one per interval; null for none (the import's own registry). */
  publishLimit: RateLimit | null;
  /** Where `GET /metrics` is served, apart from the public port; null: nowhere. */
  metrics: MetricsListener | null;
  /** Git remotes the public index is pushed to; each with the name it goes by in logs (no credentials). */
  mirrors: GitRemote[];
  /** Whether a mirror that was rewritten or is ahead is overwritten (otherwise it is reported and left alone). */
  mirrorForce: boolean;
};

/** The metrics' own listener (port 0: any free port). */
export type MetricsListener = { port: number; host: string };

/** A block of addresses: `10.0.0.0/8`, or one address as a /32 (IPv4) or /128 (IPv6). */
export type AddressRange = { address: string; prefix: number; family: 'ipv4' | 'ipv6' };

/**
 * `TRUST_PROXY`: a number of proxy hops in front of the gateway (each adds one entry to
 * X-Forwarded-For), or the addresses of the proxies.
 */
export type TrustProxy = { hops: number } | { proxies: AddressRange[] };

/** How long the HTTP server waits for slow clients, how many it holds, and how long a shutdown waits. */
export type ServerLimits = {
  /** From the connection (or the previous request) to the end of the request's headers. */
  headersTimeoutMs: number;
  /** From the start of a request to the end of its body. */
  requestTimeoutMs: number;
  /** A connection on which nothing moves, either way, for this long is closed. */
  idleTimeoutMs: number;
  /** An idle kept-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** Connections held at once; further ones are closed as they arrive. */
  maxConnections: number;
  /** After SIGTERM, requests in flight get this long before their connections are closed. */
  shutdownGraceMs: number;
};

/**
 * The memory publishes in flight may hold: bytes received by uploads still arriving (in all
 * and per user), and the weight of complete bundles being decoded, checked and committed.
 */
export type UploadLimits = { receivedBytes: number; receivedPerUserBytes: number; decodingBytes: number };

/**
 * `METRICS_PORT` (and `METRICS_HOST`, by default the public `HOST`): the listener of `GET
 * /metrics`, never the public port; unset, none.
 */
function readMetrics(env: Env, port: number, host: string): MetricsListener | null {
  const metricsPort = readPort(env, 'METRICS_PORT');
  const metricsHost = read(env, 'METRICS_HOST');
  if (metricsPort === null) {
    if (metricsHost !== null) throw new ConfigError('METRICS_HOST', 'is set but METRICS_PORT is not: set the port the metrics are served on');
    return null;
  }
  if (metricsPort !== 0 && metricsPort === port) {
    throw new ConfigError('METRICS_PORT', `must differ from PORT (${port}): the metrics are never served on the public port`);
  }
  return { port: metricsPort, host: metricsHost ?? host };
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

function readServerLimits(env: Env): ServerLimits {
  const seconds = (name: string, fallback: number) => readPositive(env, name, fallback, 'seconds') * 1000;
  const limits = {
    headersTimeoutMs: seconds('HEADERS_TIMEOUT_SECONDS', 20),
    requestTimeoutMs: seconds('REQUEST_TIMEOUT_SECONDS', 120),
    idleTimeoutMs: seconds('IDLE_TIMEOUT_SECONDS', 30),
    keepAliveTimeoutMs: seconds('KEEP_ALIVE_TIMEOUT_SECONDS', 5),
    maxConnections: readPositive(env, 'MAX_CONNECTIONS', 1000, 'connections', true),
    shutdownGraceMs: seconds('SHUTDOWN_GRACE_SECONDS', 10),
  };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new ConfigError('HEADERS_TIMEOUT_SECONDS', `must not be longer than REQUEST_TIMEOUT_SECONDS (${limits.requestTimeoutMs / 1000})`);
  }
  return limits;
}

function readUploadLimits(env: Env): UploadLimits {
  const mebibytes = (name: string, fallback: number) => readPositive(env, name, fallback, 'MiB', true) * 1024 * 1024;
  const limits = {
    receivedBytes: mebibytes('UPLOAD_MEMORY_MIB', 128),
    receivedPerUserBytes: mebibytes('UPLOAD_MEMORY_PER_USER_MIB', 32),
    decodingBytes: mebibytes('DECODE_MEMORY_MIB', 192),
  };
  const largestSent = defaultBundleLimits.compressedBytes;
  const largestWeight = decodeWeight(largestSent, defaultBundleLimits.decompressedBytes);
  if (limits.receivedPerUserBytes < largestSent) {
    throw new ConfigError('UPLOAD_MEMORY_PER_USER_MIB', `must be at least ${largestSent / 1024 / 1024}, the largest bundle as sent`);
  }
  if (limits.receivedPerUserBytes > limits.receivedBytes) {
    throw new ConfigError('UPLOAD_MEMORY_PER_USER_MIB', `must not be more than UPLOAD_MEMORY_MIB (${limits.receivedBytes / 1024 / 1024})`);
  }
  if (limits.decodingBytes < largestWeight) {
    throw new ConfigError('DECODE_MEMORY_MIB', `must be at least ${largestWeight / 1024 / 1024}, what decoding the largest bundle weighs`);
  }
  return limits;
}

/** crates.io's limit on new versions: 30 at once, then one a minute. */
function readPublishLimit(env: Env): RateLimit {
  return {
    burst: readPositive(env, 'PUBLISH_BURST', 30, 'publishes', true),
    everyMs: readPositive(env, 'PUBLISH_INTERVAL_SECONDS', 60, 'seconds') * 1000,
  };
}

const loopback = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** One entry of MIRROR_URLS: an HTTPS, HTTP or SSH URL, `user@host:path`, or a path (absolute, or relative to `cwd`). */
function readMirror(raw: string, cwd: string, ownGitDir: string): GitRemote {
  const problem = (text: string) => new ConfigError('MIRROR_URLS', `${text}, got "${mirrorName(raw)}"`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw problem('expected a Git remote URL');
    }
    if (!['https:', 'http:', 'ssh:'].includes(url.protocol)) throw problem('expected a Git remote: https://, http://, ssh://, user@host:path or a path');
    if (url.hostname === '') throw problem('expected a host in the URL');
    if (url.protocol === 'http:' && (url.username !== '' || url.password !== '') && !loopback.has(url.hostname)) {
      throw problem('credentials would cross the network in clear text: use https://');
    }
    return { url: raw, name: mirrorName(raw) };
  }
  // Git reads `host:path` with no slash before the colon as SSH, as here.
  if (/^[^/]+:/.test(raw)) return { url: raw, name: raw };
  const resolved = path.resolve(cwd, raw);
  if (resolved === ownGitDir) throw problem(`a mirror cannot be the registry's own repository`);
  return { url: resolved, name: resolved };
}

/**
 * A mirror URL for messages and logs: the user and password of a URL hidden (a host's token may
 * be either), except an SSH user name (`ssh://git@host`), which is no secret.
 */
export function mirrorName(raw: string): string {
  if (/^ssh:\/\//i.test(raw)) return raw.replace(/^(ssh:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, '$1***@');
}

function readMirrors(env: Env, cwd: string, dataDir: string): GitRemote[] {
  const mirrors = (read(env, 'MIRROR_URLS') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => readMirror(entry, cwd, path.join(dataDir, 'index.git')));
  const seen = new Set<string>();
  for (const mirror of mirrors) {
    if (seen.has(mirror.url)) throw new ConfigError('MIRROR_URLS', `"${mirror.name}" is listed twice`);
    seen.add(mirror.url);
  }
  return mirrors;
}

function readGitLimits(env: Env): Config['git'] {
  return {
    processes: readInteger(env, 'GIT_PROCESSES', 4, 1, 256),
    queue: readInteger(env, 'GIT_QUEUE', 64, 0, 100_000),
    timeoutSeconds: readInteger(env, 'GIT_TIMEOUT_SECONDS', 300, 1, 86_400),
    nice: readInteger(env, 'GIT_NICE', 10, 0, 19),
  };
}

/** Turns the environment into a typed configuration; every error names its variable. */
export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  const port = readPort(env, 'PORT') ?? 3000;
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
    git: readGitLimits(env),
    writerNice: readInteger(env, 'WRITER_NICE', 10, 0, 19),
    server: readServerLimits(env),
    uploads: readUploadLimits(env),
    publishLimit: readPublishLimit(env),
    logTimings: readSwitch(env, 'LOG_TIMINGS'),
    metrics: readMetrics(env, port, host),
    mirrors: readMirrors(env, cwd, dataDir),
    mirrorForce: readSwitch(env, 'MIRROR_FORCE'),
  };
}

/** Everything a read replica (scripts/replica.ts) reads from its environment, read once at start. */
export type ReplicaConfig = {
  port: number;
  host: string;
  /** Absolute path of the replica's own folder: its copy of the index, and the served tree. */
  dataDir: string;
  /** The primary's public base URL, without a trailing slash: where logins and changes go. */
  primaryUrl: string;
  /** The Git URL the index is fetched from: `<primaryUrl>/index.git`, or a mirror. */
  source: string;
  /** Milliseconds between two fetches when no webhook comes. */
  intervalMs: number;
  /** The most one fetch may take, in milliseconds; then it is killed and tried again later. */
  fetchTimeoutMs: number;
  /** The secret the primary signs its webhooks with; null: webhooks are refused. */
  webhookSecret: string | null;
  git: Config['git'];
  server: ServerLimits;
  /** Where `GET /metrics` listens, as on the primary; null: nowhere. */
  metrics: MetricsListener | null;
};

/**
 * A Git URL to fetch from: a URL of a protocol Git speaks (`https://`, `ssh://`...), the
 * `user@host:path` form of SSH, or a folder (made absolute).
 */
function readGitSource(env: Env, name: string, cwd: string): string | null {
  const raw = read(env, name);
  if (raw === null) return null;
  if (raw.startsWith('-') || /[\s\0]/.test(raw)) throw new ConfigError(name, `expected a Git URL or a folder, got "${redactUrl(raw)}"`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (!['http', 'https', 'ssh', 'git'].includes(scheme)) {
      throw new ConfigError(name, `expected a Git URL (https://, http://, ssh:// or git://) or a folder given as a path, got "${redactUrl(raw)}"`);
    }
    return raw;
  }
  return /^[^/]+:/.test(raw) ? raw : path.resolve(cwd, raw);
}

/** Turns the environment into a read replica's configuration; every error names its variable. */
export function loadReplicaConfig(env: Env, cwd: string = process.cwd()): ReplicaConfig {
  const primaryUrl = readUrl(env, 'PRIMARY_URL', ['http:', 'https:']);
  if (primaryUrl === null) throw new ConfigError('PRIMARY_URL', "must be set to the primary registry's public address, such as https://registry.example.org");
  const port = readPort(env, 'PORT') ?? 3000;
  const host = read(env, 'HOST') ?? '127.0.0.1';
  return {
    port,
    host,
    dataDir: path.resolve(cwd, read(env, 'REPLICA_DATA') ?? './replica-data'),
    primaryUrl,
    source: readGitSource(env, 'REPLICA_SOURCE', cwd) ?? `${primaryUrl}/index.git`,
    intervalMs: readPositive(env, 'REPLICA_INTERVAL_SECONDS', 60, 'seconds') * 1000,
    fetchTimeoutMs: readPositive(env, 'REPLICA_FETCH_TIMEOUT_SECONDS', 300, 'seconds') * 1000,
    webhookSecret: read(env, 'WEBHOOK_SECRET'),
    git: readGitLimits(env),
    server: readServerLimits(env),
    metrics: readMetrics(env, port, host),
  };
}
