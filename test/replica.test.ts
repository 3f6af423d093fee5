import test from 'ava';
import crypto from 'node:crypto';
import { bundle } from './helpers/bundle.ts';
import { publisher, published, putBundle, revokeCall } from './helpers/fixtures.ts';
import { call, expectError, expectJson, startRegistryWithMail } from './helpers/accounts.ts';
import { fsck, gitCmd, remoteRefs } from './helpers/git.ts';
import { freePort, tempDir } from './helpers/registry.ts';
import { spawnReplica, startReplicaProcess, type RegistryProcess } from './helpers/process.ts';
import { servedFiles, until } from './helpers/replica.ts';
import { replicaPaths } from '../gateway/replica/replica.ts';
import { signature } from '../gateway/notifications/deliver.ts';
import { blobId } from '../index-repo/git-object.ts';
import type { VersionIndex } from '../gateway/packages/version-index.ts';

const CLIENTS = 8;
const VERSIONS = 5;
const SECRET = 'replica-webhook-secret';

/** The commit a replica serves, from its /healthz; null while it is down or has none. */
async function servedCommit(url: string): Promise<string | null> {
  try {
    const res = await fetch(`${url}/healthz`);
    return res.ok ? ((await res.json()) as { commit: string }).commit : null;
  } catch {
    return null;
  }
}

/**
 * A reader of one replica, as a client of the index reads it: a package's index.json, then each
 * version it lists unrevoked, gren.json and bundle (checked against the entry's SHA-256). Every
 * read must be of one whole commit, and no index.json older than one read before.
 */
function reader(url: string, packages: string[], problems: string[], stop: AbortSignal): { reads: () => number; done: Promise<void> } {
  let reads = 0;
  const seen = new Map<string, number>();
  const get = async (path: string): Promise<Response | null> => {
    try {
      reads++;
      return await fetch(`${url}${path}`);
    } catch {
      return null; // The replica is down (killed on purpose): nothing to judge.
    }
  };
  const one = async (name: string): Promise<void> => {
    const res = await get(`/index/packages/${name}/index.json`);
    if (res === null || res.status === 404) return;
    if (res.status !== 200) return void problems.push(`${url} index.json of ${name}: ${res.status}`);
    const index = (await res.json()) as VersionIndex;
    if (index.versions.length < (seen.get(name) ?? 0)) problems.push(`${url} went back: ${name} listed ${index.versions.length} versions after ${seen.get(name)}`);
    seen.set(name, index.versions.length);
    for (const entry of index.versions) {
      const outline = await get(`/index/packages/${name}/${entry.version}/gren.json`);
      const bytes = await get(`/index/packages/${name}/${entry.version}/bundle.pkg.gz`);
      if (outline === null || bytes === null) return;
      if (outline.status !== 200 || bytes.status !== 200) problems.push(`${url} lists ${name} ${entry.version} but answers ${outline.status} for gren.json, ${bytes.status} for the bundle`);
      else if (crypto.createHash('sha256').update(Buffer.from(await bytes.arrayBuffer())).digest('hex') !== entry.sha256) problems.push(`${url} ${name} ${entry.version}: the bundle differs from its entry`);
    }
  };
  const done = (async () => {
    for (let i = 0; !stop.aborted; i++) await one(packages[i % packages.length] as string);
  })();
  return { reads: () => reads, done };
}

test('two replicas follow a primary that 8 clients publish to: whole commits only, convergence by webhook and by timer, a SIGKILL resumed, writes sent to the primary, a revoke purged', async (t) => {
  const portA = await freePort();
  const portB = await freePort();
  const reg = await startRegistryWithMail({ env: { WEBHOOK_URLS: `http://127.0.0.1:${portA}/replica/webhook`, WEBHOOK_SECRET: SECRET, PUBLISH_BURST: '1000' } });
  t.teardown(() => reg.close());
  const identities = Array.from({ length: CLIENTS }, (_, i) => `client${i}`);
  const token = await publisher(reg, 'robin@example.com', identities);
  const packages = identities.map((identity) => `${identity}/lib`);

  // A follows by webhook (its timer is far off); B by its timer alone.
  const dataA = tempDir('gren-replica-a-');
  const dataB = tempDir('gren-replica-b-');
  const envA = { PORT: String(portA), REPLICA_DATA: dataA, PRIMARY_URL: reg.url, REPLICA_INTERVAL_SECONDS: '60', WEBHOOK_SECRET: SECRET };
  const envB = { PORT: String(portB), REPLICA_DATA: dataB, PRIMARY_URL: reg.url, REPLICA_INTERVAL_SECONDS: '1' };
  const a = await startReplicaProcess(envA);
  let b: RegistryProcess = await startReplicaProcess(envB);
  t.teardown(async () => {
    await a.stop('SIGTERM');
    await b.stop('SIGTERM');
  });
  const head = () => reg.registry.deps.index.head();
  await until(async () => (await servedCommit(a.url)) === head() && (await servedCommit(b.url)) === head(), 'the first state on both replicas');

  const stop = new AbortController();
  const problems: string[] = [];
  const readers = [a.url, a.url, b.url, b.url].map((url) => reader(url, packages, problems, stop.signal));
  let publishes = 0;
  let lastAck = 0;
  let restarted: Promise<void> | null = null;
  await Promise.all(
    packages.map(async (name) => {
      for (let minor = 0; minor < VERSIONS; minor++) {
        await published(reg.url, token, name, `1.${minor}.0`, bundle({ name, version: `1.${minor}.0`, padding: 2000 }));
        lastAck = Date.now();
        // Halfway, B is killed in the middle of whatever it was doing, and started again.
        if (++publishes === (CLIENTS * VERSIONS) / 2) {
          await b.stop('SIGKILL');
          restarted = (async () => {
            b = await spawnReplica(envB);
          })();
        }
      }
    }),
  );
  await restarted;
  const lastCommit = head();
  const converge = async (url: string) => {
    await until(async () => (await servedCommit(url)) === lastCommit, `${url} to serve ${lastCommit}`, 15_000);
    return Date.now() - lastAck;
  };
  const [byWebhook, byTimer] = await Promise.all([converge(a.url), converge(b.url)]);
  stop.abort();
  await Promise.all(readers.map((r) => r.done));
  t.deepEqual(problems, []);
  const reads = readers.reduce((sum, r) => sum + r.reads(), 0);
  t.log(`${publishes} publishes by ${CLIENTS} clients, ${reads} reads; after the last publish A served it in ${byWebhook} ms (webhook), B in ${byTimer} ms (1 s timer, killed and restarted meanwhile)`);
  t.true(byWebhook < 5000, `A converged in ${byWebhook} ms`);
  t.true(byTimer < 1000 + 5000, `B converged in ${byTimer} ms`);
  t.true(b.output().includes('"event":"replica_resumed"'), 'B resumed from its last state');

  // Both replicas serve what the primary serves, as files and over Git.
  const primaryFiles = await servedFiles(`${reg.dataDir}/index`);
  const primaryRefs = remoteRefs(await gitCmd(['ls-remote', `${reg.url}/index.git`]));
  for (const [replica, data] of [[a, dataA], [b, dataB]] as const) {
    t.deepEqual(await servedFiles(replicaPaths(data).link), primaryFiles);
    t.deepEqual(remoteRefs(await gitCmd(['ls-remote', `${replica.url}/index.git`])), primaryRefs);
  }

  // Writes and logins get the primary's address; reads of the API are redirected there.
  const refused = await putBundle(a.url, token, 'client0/lib', '9.0.0', bundle({ name: 'client0/lib', version: '9.0.0' }));
  t.is(refused.headers.get('x-registry-primary'), reg.url);
  t.regex((await expectError(refused, 405, 'read_only_replica')).message, new RegExp(reg.url));
  await expectError(await call(b.url, 'POST', '/session', { body: { email: 'robin@example.com' } }), 405, 'read_only_replica');
  const redirected = await fetch(`${a.url}/packages/client0/lib/latest?gren=0.6.3`, { redirect: 'manual' });
  t.is(redirected.status, 307);
  t.is(redirected.headers.get('location'), `${reg.url}/packages/client0/lib/latest?gren=0.6.3`);

  // A webhook the primary did not sign is refused and logged.
  const forged = JSON.stringify({ event: 'publish', package: 'client0/lib', version: '1.0.0', commit: lastCommit });
  await expectError(await fetch(`${a.url}/replica/webhook`, { method: 'POST', body: forged, headers: { 'x-registry-signature': signature(forged, 'not the secret') } }), 401, 'unauthorized');
  await expectError(await fetch(`${a.url}/replica/webhook`, { method: 'POST', body: forged }), 401, 'unauthorized');
  t.true(a.output().includes('"event":"replica_webhook_refused"'));

  // A revoke reaches both: the bundle is gone there too, and from A's disk.
  const doomed = bundle({ name: 'client0/lib', version: '2.0.0', padding: 2000 });
  await published(reg.url, token, 'client0/lib', '2.0.0', doomed);
  await until(async () => (await fetch(`${a.url}/index/packages/client0/lib/2.0.0/bundle.pkg.gz`)).status === 200, 'A to serve 2.0.0');
  await expectJson(await revokeCall(reg.url, token, 'client0/lib', '2.0.0', 'a test'), 200);
  const revoked = async (url: string) => {
    const index = (await (await fetch(`${url}/index/packages/client0/lib/index.json`)).json()) as VersionIndex;
    return (index.versions.find((entry) => entry.version === '2.0.0')?.revoked ?? null) !== null;
  };
  for (const replica of [a, b]) {
    await until(() => revoked(replica.url), `${replica.url} to list 2.0.0 as revoked`);
    t.is((await fetch(`${replica.url}/index/packages/client0/lib/2.0.0/bundle.pkg.gz`)).status, 404);
  }
  for (const data of [dataA, dataB]) {
    const gitDir = replicaPaths(data).git;
    await until(() => gitCmd(['--git-dir', gitDir, 'cat-file', '-e', blobId(doomed)]).then(() => false, () => true), 'the revoked bundle to leave the disk');
  }
  // Stopped, so that no fetch or packing runs beside the check.
  await a.stop('SIGTERM');
  await b.stop('SIGTERM');
  for (const data of [dataA, dataB]) await fsck(replicaPaths(data).git);
  t.log(a.output().split('\n').filter((l) => l.includes('replica_updated')).slice(-12).join('\n'));
});
