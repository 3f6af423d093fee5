import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, loadReplicaConfig } from '../gateway/config.ts';
import { ConfigError } from '../gateway/config-readers.ts';

test("the defaults of the README's configuration table", (t) => {
  const config = loadConfig({}, '/srv/registry');
  t.deepEqual(config, {
    port: 3000,
    host: '127.0.0.1',
    dataDir: path.resolve('/srv/registry/data'),
    registryUrl: 'http://localhost:3000',
    smtpUrl: null,
    mailFrom: 'Gren Registry <registry@localhost>',
    packagesSiteUrl: null,
    webhookUrls: [],
    webhookSecret: null,
    trustProxy: null,
    git: { processes: 4, queue: 64, timeoutSeconds: 300, nice: 10 },
    writerNice: 10,
    server: { headersTimeoutMs: 20_000, requestTimeoutMs: 120_000, idleTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxConnections: 1000, shutdownGraceMs: 10_000 },
    uploads: { receivedBytes: 128 * 1024 * 1024, receivedPerUserBytes: 32 * 1024 * 1024, decodingBytes: 192 * 1024 * 1024 },
    publishLimit: { burst: 30, everyMs: 60_000 },
    logTimings: false,
    metrics: null,
    mirrors: [],
    mirrorForce: false,
  });
});

test('TRUST_PROXY: a number of hops, or a list of proxy addresses and blocks', (t) => {
  t.deepEqual(loadConfig({ TRUST_PROXY: '1' }).trustProxy, { hops: 1 });
  t.deepEqual(loadConfig({ TRUST_PROXY: '3' }).trustProxy, { hops: 3 });
  t.is(loadConfig({ TRUST_PROXY: '0' }).trustProxy, null);
  t.deepEqual(loadConfig({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,FD00::/8, ::ffff:192.0.2.1' }).trustProxy, {
    proxies: [
      { address: '127.0.0.1', prefix: 32, family: 'ipv4' },
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: 'fd00::', prefix: 8, family: 'ipv6' },
      { address: '192.0.2.1', prefix: 32, family: 'ipv4' },
    ],
  });
});

test('every variable is read', (t) => {
  const config = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    REGISTRY_DATA: '/var/lib/gren',
    REGISTRY_URL: 'https://registry.gren-lang.org/',
    SMTP_URL: 'smtp://user:secret@mail.example.com:587',
    MAIL_FROM: 'Registry <noreply@gren-lang.org>',
    PACKAGES_SITE_URL: 'https://packages.gren-lang.org',
    WEBHOOK_URLS: 'https://a.example/hook, https://b.example/hook',
    WEBHOOK_SECRET: 's3cret',
    GIT_PROCESSES: '2',
    GIT_QUEUE: '0',
    GIT_TIMEOUT_SECONDS: '30',
    GIT_NICE: '0',
    WRITER_NICE: '3',
    HEADERS_TIMEOUT_SECONDS: '2.5',
    REQUEST_TIMEOUT_SECONDS: '30',
    IDLE_TIMEOUT_SECONDS: '15',
    KEEP_ALIVE_TIMEOUT_SECONDS: '1',
    MAX_CONNECTIONS: '64',
    SHUTDOWN_GRACE_SECONDS: '3',
    UPLOAD_MEMORY_MIB: '512',
    UPLOAD_MEMORY_PER_USER_MIB: '100',
    DECODE_MEMORY_MIB: '400',
    PUBLISH_BURST: '5',
    PUBLISH_INTERVAL_SECONDS: '600',
    LOG_TIMINGS: '1',
    METRICS_PORT: '9464',
    METRICS_HOST: '10.0.0.5',
  });
  t.is(config.port, 8080);
  t.is(config.host, '0.0.0.0');
  t.is(config.dataDir, '/var/lib/gren');
  t.is(config.registryUrl, 'https://registry.gren-lang.org');
  t.is(config.smtpUrl, 'smtp://user:secret@mail.example.com:587');
  t.is(config.mailFrom, 'Registry <noreply@gren-lang.org>');
  t.is(config.packagesSiteUrl, 'https://packages.gren-lang.org');
  t.deepEqual(config.webhookUrls, ['https://a.example/hook', 'https://b.example/hook']);
  t.is(config.webhookSecret, 's3cret');
  t.deepEqual(config.git, { processes: 2, queue: 0, timeoutSeconds: 30, nice: 0 });
  t.is(config.writerNice, 3);
  t.deepEqual(config.server, { headersTimeoutMs: 2500, requestTimeoutMs: 30_000, idleTimeoutMs: 15_000, keepAliveTimeoutMs: 1000, maxConnections: 64, shutdownGraceMs: 3000 });
  t.deepEqual(config.uploads, { receivedBytes: 512 * 1024 * 1024, receivedPerUserBytes: 100 * 1024 * 1024, decodingBytes: 400 * 1024 * 1024 });
  t.deepEqual(config.publishLimit, { burst: 5, everyMs: 600_000 });
  t.true(config.logTimings);
  t.deepEqual(config.metrics, { port: 9464, host: '10.0.0.5' });
});

test('METRICS_PORT: its own listener, on HOST unless METRICS_HOST says otherwise; 0 is any free port', (t) => {
  t.deepEqual(loadConfig({ HOST: '192.0.2.7', METRICS_PORT: '9464' }).metrics, { port: 9464, host: '192.0.2.7' });
  t.deepEqual(loadConfig({ PORT: '0', METRICS_PORT: '0' }).metrics, { port: 0, host: '127.0.0.1' });
  t.is(loadConfig({ PORT: '9464' }).metrics, null);
});

const bad: Array<[Record<string, string>, string]> = [
  [{ PORT: 'eighty' }, 'PORT'],
  [{ PORT: '70000' }, 'PORT'],
  [{ REGISTRY_URL: 'not a url' }, 'REGISTRY_URL'],
  [{ REGISTRY_URL: 'ftp://example.com' }, 'REGISTRY_URL'],
  [{ SMTP_URL: 'http://mail.example.com' }, 'SMTP_URL'],
  [{ MAIL_FROM: 'nobody' }, 'MAIL_FROM'],
  [{ PACKAGES_SITE_URL: 'packages.gren-lang.org' }, 'PACKAGES_SITE_URL'],
  [{ WEBHOOK_URLS: 'https://ok.example, nope' , WEBHOOK_SECRET: 'x' }, 'WEBHOOK_URLS'],
  [{ WEBHOOK_URLS: 'https://ok.example' }, 'WEBHOOK_SECRET'],
  [{ TRUST_PROXY: 'yes' }, 'TRUST_PROXY'],
  [{ LOG_TIMINGS: 'yes' }, 'LOG_TIMINGS'],
  [{ TRUST_PROXY: '11' }, 'TRUST_PROXY'],
  [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
  [{ TRUST_PROXY: '10.0.0.0/8/8' }, 'TRUST_PROXY'],
  [{ TRUST_PROXY: '10.0.0.1,,10.0.0.2' }, 'TRUST_PROXY'],
  [{ TRUST_PROXY: 'nginx.local' }, 'TRUST_PROXY'],
  [{ GIT_PROCESSES: '0' }, 'GIT_PROCESSES'],
  [{ GIT_PROCESSES: 'four' }, 'GIT_PROCESSES'],
  [{ GIT_QUEUE: '-1' }, 'GIT_QUEUE'],
  [{ GIT_TIMEOUT_SECONDS: '1.5' }, 'GIT_TIMEOUT_SECONDS'],
  [{ GIT_NICE: '20' }, 'GIT_NICE'],
  [{ WRITER_NICE: '-1' }, 'WRITER_NICE'],
  [{ WRITER_NICE: '20' }, 'WRITER_NICE'],
  [{ HEADERS_TIMEOUT_SECONDS: '0' }, 'HEADERS_TIMEOUT_SECONDS'],
  [{ HEADERS_TIMEOUT_SECONDS: '200' }, 'HEADERS_TIMEOUT_SECONDS'],
  [{ REQUEST_TIMEOUT_SECONDS: '-1' }, 'REQUEST_TIMEOUT_SECONDS'],
  [{ IDLE_TIMEOUT_SECONDS: 'soon' }, 'IDLE_TIMEOUT_SECONDS'],
  [{ KEEP_ALIVE_TIMEOUT_SECONDS: '1e3' }, 'KEEP_ALIVE_TIMEOUT_SECONDS'],
  [{ MAX_CONNECTIONS: '10.5' }, 'MAX_CONNECTIONS'],
  [{ SHUTDOWN_GRACE_SECONDS: 'x' }, 'SHUTDOWN_GRACE_SECONDS'],
  [{ UPLOAD_MEMORY_MIB: '0' }, 'UPLOAD_MEMORY_MIB'],
  [{ UPLOAD_MEMORY_MIB: '16' }, 'UPLOAD_MEMORY_PER_USER_MIB'],
  [{ UPLOAD_MEMORY_PER_USER_MIB: '5' }, 'UPLOAD_MEMORY_PER_USER_MIB'],
  [{ DECODE_MEMORY_MIB: '100' }, 'DECODE_MEMORY_MIB'],
  [{ PUBLISH_BURST: '0' }, 'PUBLISH_BURST'],
  [{ PUBLISH_INTERVAL_SECONDS: 'hourly' }, 'PUBLISH_INTERVAL_SECONDS'],
  [{ METRICS_PORT: 'metrics' }, 'METRICS_PORT'],
  [{ METRICS_PORT: '65536' }, 'METRICS_PORT'],
  [{ METRICS_PORT: '-1' }, 'METRICS_PORT'],
  [{ METRICS_PORT: '3000' }, 'METRICS_PORT'],
  [{ PORT: '8080', METRICS_PORT: '8080' }, 'METRICS_PORT'],
  [{ METRICS_HOST: '10.0.0.5' }, 'METRICS_HOST'],
  [{ MIRROR_URLS: 'git://example.com/index.git' }, 'MIRROR_URLS'],
  [{ MIRROR_URLS: 'ftp://example.com/index.git' }, 'MIRROR_URLS'],
  [{ MIRROR_URLS: 'https://' }, 'MIRROR_URLS'],
  [{ MIRROR_URLS: 'http://user:token@mirror.example.com/index.git' }, 'MIRROR_URLS'],
  [{ MIRROR_URLS: '/srv/a.git, /srv/a.git' }, 'MIRROR_URLS'],
  [{ MIRROR_URLS: '/var/lib/gren/index.git', REGISTRY_DATA: '/var/lib/gren' }, 'MIRROR_URLS'],
  [{ MIRROR_FORCE: 'please' }, 'MIRROR_FORCE'],
];

for (const [env, variable] of bad) {
  test(`a bad ${variable} is refused with the variable named (${JSON.stringify(env)})`, (t) => {
    const error = t.throws(() => loadConfig(env), { instanceOf: ConfigError });
    t.is(error?.variable, variable);
    t.true(error?.message.startsWith(`${variable}: `));
  });
}

test('a password in SMTP_URL never appears in an error', (t) => {
  const error = t.throws(() => loadConfig({ SMTP_URL: 'http://user:hunter2@mail.example.com' }));
  t.false(error?.message.includes('hunter2'));
});

test('every variable config.ts reads is in the README’s configuration table', (t) => {
  const root = path.resolve(import.meta.dirname, '..');
  const source = fs.readFileSync(path.join(root, 'gateway/config.ts'), 'utf8');
  const table = fs.readFileSync(path.join(root, 'README.md'), 'utf8').split('\n').filter((line) => line.startsWith('| `'));
  const variables = new Set([...source.matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|PORT|HOST)'/g)].map((m) => m[1] as string));
  t.true(variables.size >= 20, `found ${variables.size} variables`);
  for (const variable of variables) t.true(table.some((line) => line.includes(`\`${variable}\``)), variable);
});

test('MIRROR_URLS: HTTPS with a token, SSH and paths; names for the log without credentials', (t) => {
  const config = loadConfig(
    {
      MIRROR_URLS: 'https://x-access-token:ghp_secret@github.com/gren/index.git, git@gitlab.com:gren/index.git,ssh://git@host:2222/index.git, ../mirror.git, https://ghp_alone@codeberg.org/gren/index.git, http://u:p@127.0.0.1:8080/index.git',
      MIRROR_FORCE: '1',
    },
    '/srv/registry',
  );
  t.deepEqual(config.mirrors, [
    { url: 'https://x-access-token:ghp_secret@github.com/gren/index.git', name: 'https://***@github.com/gren/index.git' },
    { url: 'git@gitlab.com:gren/index.git', name: 'git@gitlab.com:gren/index.git' },
    { url: 'ssh://git@host:2222/index.git', name: 'ssh://git@host:2222/index.git' },
    { url: '/srv/mirror.git', name: '/srv/mirror.git' },
    { url: 'https://ghp_alone@codeberg.org/gren/index.git', name: 'https://***@codeberg.org/gren/index.git' },
    { url: 'http://u:p@127.0.0.1:8080/index.git', name: 'http://***@127.0.0.1:8080/index.git' },
  ]);
  t.true(config.mirrorForce);
  t.false(loadConfig({ MIRROR_FORCE: '0' }).mirrorForce);
});

test('a token in MIRROR_URLS never appears in an error', (t) => {
  for (const url of ['git://ghp_secret@example.com/x.git', 'http://user:ghp_secret@mirror.example.com/x.git', 'https://ghp_secret@a.example/x.git,https://ghp_secret@a.example/x.git']) {
    const error = t.throws(() => loadConfig({ MIRROR_URLS: url }), { instanceOf: ConfigError });
    t.false(error?.message.includes('ghp_secret'), error?.message);
  }
});

test("a read replica's configuration: its defaults, every variable read, and each error naming its variable", (t) => {
  const replica = loadReplicaConfig({ PRIMARY_URL: 'https://registry.example.org/' }, '/srv/replica');
  t.like(replica, {
    port: 3000,
    host: '127.0.0.1',
    dataDir: path.resolve('/srv/replica/replica-data'),
    primaryUrl: 'https://registry.example.org',
    source: 'https://registry.example.org/index.git',
    intervalMs: 60_000,
    fetchTimeoutMs: 300_000,
    webhookSecret: null,
    git: { processes: 4, queue: 64, timeoutSeconds: 300, nice: 10 },
  });
  const set = loadReplicaConfig(
    { PRIMARY_URL: 'https://registry.example.org', REPLICA_DATA: 'r', REPLICA_SOURCE: 'mirror.git', REPLICA_INTERVAL_SECONDS: '0.5', REPLICA_FETCH_TIMEOUT_SECONDS: '20', WEBHOOK_SECRET: 's3cret', PORT: '8081', GIT_PROCESSES: '8' },
    '/srv',
  );
  t.deepEqual(loadReplicaConfig({ PRIMARY_URL: 'https://r.example', METRICS_PORT: '9100' }).metrics, { port: 9100, host: '127.0.0.1' });
  t.like(set, { dataDir: '/srv/r', source: '/srv/mirror.git', intervalMs: 500, fetchTimeoutMs: 20_000, webhookSecret: 's3cret', port: 8081, git: { processes: 8 } });
  for (const source of ['https://user:token@git.example/index.git', 'ssh://git@git.example/index.git', 'git@git.example:gren/index.git']) {
    t.is(loadReplicaConfig({ PRIMARY_URL: 'https://r.example', REPLICA_SOURCE: source }).source, source);
  }
  const badReplica: Array<[Record<string, string>, string]> = [
    [{}, 'PRIMARY_URL'],
    [{ PRIMARY_URL: 'registry.example.org' }, 'PRIMARY_URL'],
    [{ PRIMARY_URL: 'https://r.example', REPLICA_SOURCE: '--upload-pack=touch /tmp/x' }, 'REPLICA_SOURCE'],
    [{ PRIMARY_URL: 'https://r.example', REPLICA_SOURCE: 'ftp://git.example/index.git' }, 'REPLICA_SOURCE'],
    [{ PRIMARY_URL: 'https://r.example', REPLICA_INTERVAL_SECONDS: '0' }, 'REPLICA_INTERVAL_SECONDS'],
    [{ PRIMARY_URL: 'https://r.example', REPLICA_FETCH_TIMEOUT_SECONDS: 'long' }, 'REPLICA_FETCH_TIMEOUT_SECONDS'],
    [{ PRIMARY_URL: 'https://r.example', PORT: '-1' }, 'PORT'],
  ];
  for (const [env, variable] of badReplica) {
    const error = t.throws(() => loadReplicaConfig(env), { instanceOf: ConfigError }, JSON.stringify(env));
    t.is(error?.variable, variable);
  }
  const leaked = t.throws(() => loadReplicaConfig({ PRIMARY_URL: 'https://r.example', REPLICA_SOURCE: 'ftp://user:hunter2@git.example/x' }));
  t.false(leaked?.message.includes('hunter2'));
});
