import test from 'ava';
import http from 'node:http';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { outlineOf } from './helpers/bundle.ts';
import { residentBytes, startRegistryProcess, type RegistryProcess } from './helpers/process.ts';
import { tempDir } from './helpers/registry.ts';
import { startSmtp } from './helpers/smtp.ts';
import { createIdentity, loggedIn } from './helpers/accounts.ts';

const mib = 1024 * 1024;

const modules = ['Main', 'A', 'B', 'C', 'D', 'E', 'F'];
/** The sources of seven 7 MiB modules of spaces, gzip'd once: a second gzip member after each outline. */
const sevenModules = zlib.gzipSync(`${modules.map((module) => `${JSON.stringify(module)}:${JSON.stringify(`module ${module} exposing (..)\n${' '.repeat(7 * mib)}`)}`).join(',')}}}`);

/** A valid bundle of about 50 KB of gzip inflating to 49 MiB (gzip members inflate one after the other). */
function inflatingBundle(name: string): Buffer {
  const outline = { ...outlineOf({ name, version: '1.0.0' }), 'exposed-modules': modules };
  return Buffer.concat([zlib.gzipSync(`{"outline":${JSON.stringify(outline)},"sources":{`), sevenModules]);
}

type Answer = { status: number; retryAfter: string | null };
type HeldUpload = { answer: Promise<Answer>; finish(): void };

/** Starts an upload and sends all of it but its last 64 bytes, holding the request open until `finish()`. */
function holdUpload(url: string, token: string, bytes: Buffer): HeldUpload {
  const req = http.request(url, { method: 'PUT', agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip', 'content-length': String(bytes.length) } });
  const answer = new Promise<Answer>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: (res.headers['retry-after'] as string | undefined) ?? null }));
    });
    req.on('error', () => resolve({ status: 0, retryAfter: null }));
  });
  req.write(bytes.subarray(0, bytes.length - 64));
  return { answer, finish: () => req.end(bytes.subarray(bytes.length - 64)) };
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The promise's value, or null when it has not settled within `ms`. */
const within = <T>(ms: number, promise: Promise<T>) => Promise.race([promise, settle(ms).then(() => null)]);

/** A registry process with `users` users, each admin of the identity named after them. */
async function withUsers(t: import('ava').ExecutionContext, env: Record<string, string>, users: number) {
  const smtp = await startSmtp();
  t.teardown(() => smtp.close());
  const registry = await startRegistryProcess({ REGISTRY_DATA: tempDir(), SMTP_URL: smtp.url, ...env });
  t.teardown(() => registry.stop());
  const tokens: string[] = [];
  for (let i = 0; i < users; i++) {
    tokens.push(await loggedIn({ url: registry.url, smtp }, `user${i}@example.com`));
    await createIdentity({ url: registry.url }, tokens[i] as string, `user${i}`);
  }
  return { registry, tokens };
}

/** Samples a process's resident memory every 20 ms until `stop()`, answering the highest seen. */
function peakOf(registry: RegistryProcess): { stop(): number } {
  const pid = registry.process.pid as number;
  let peak = residentBytes(pid);
  const timer = setInterval(() => (peak = Math.max(peak, residentBytes(pid))), 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, residentBytes(pid));
    },
  };
}

test('16 uploads held open, each inflating to 49 MiB: they pin only what they sent, then all publish within the decoding budget', async (t) => {
  const { registry, tokens } = await withUsers(t, {}, 8);
  const bundles = tokens.flatMap((token, i) => ['a', 'b'].map((name) => ({ token, url: `${registry.url}/packages/user${i}/${name}/1.0.0`, bytes: inflatingBundle(`user${i}/${name}`) })));
  await settle(500);
  const before = residentBytes(registry.process.pid as number);
  const holding = peakOf(registry);

  const held = bundles.map(({ url, token, bytes }) => holdUpload(url, token, bytes));
  await settle(3000);
  const whileHeld = holding.stop() - before;
  t.log(`16 uploads held open: the registry grew by ${Math.round(whileHeld / mib)} MiB at most`);
  // What they sent (under 1 MiB in all), zlib's state, and inflated chunks the garbage collector has yet to reclaim.
  t.true(whileHeld < 200 * mib, `grew by ${Math.round(whileHeld / mib)} MiB; kept inflated, 16 uploads would hold 16 x 49 MiB`);

  const decoding = peakOf(registry);
  for (const upload of held) upload.finish();
  const answers = await Promise.all(held.map((upload) => upload.answer));
  const peak = decoding.stop() - before;
  t.log(`16 bundles of 49 MiB decoded and published: the registry grew by ${Math.round(peak / mib)} MiB at most`);
  t.deepEqual(answers.map((a) => a.status), answers.map(() => 201), 'each waits its turn, none is refused');
  // The budgets (128 MiB received, 192 MiB decoding) and what the garbage collector has yet to
  // reclaim, within the 400 MB a registry decoding such bundles may take (the writer thread's
  // garbage once took it to 460 MiB).
  t.true(peak < 400 * mib, `grew by ${Math.round(peak / mib)} MiB`);
});

test('bytes received are bounded per user (429) and in all (503), both with Retry-After; admitted uploads go on', async (t) => {
  const { registry, tokens } = await withUsers(t, { UPLOAD_MEMORY_MIB: '24', UPLOAD_MEMORY_PER_USER_MIB: '12' }, 3);
  // 8 MiB that do not compress: a valid gzip all along, so the registry keeps reading until the end.
  const incompressible = zlib.gzipSync(crypto.randomBytes(8 * mib), { level: 0 });
  const upload = (user: number, name: string) => holdUpload(`${registry.url}/packages/user${user}/${name}/1.0.0`, tokens[user] as string, incompressible);
  const first = upload(0, 'a');
  await settle(1000);
  t.like(await within(5000, upload(0, 'b').answer), { status: 429, retryAfter: '10' }, 'a second 8 MiB from the same user passes 12 MiB');
  const others = [upload(1, 'a'), upload(2, 'a')];
  const refused = await within(5000, Promise.any(others.map((o) => o.answer.then((a) => (a.status === 503 ? a : Promise.reject(new Error(String(a.status))))))));
  t.like(refused, { status: 503, retryAfter: '10' }, 'two more uploads of 8 MiB pass 24 MiB in all');
  for (const held of [first, ...others]) held.finish();
  t.is((await first.answer).status, 422, 'the first upload, admitted, is read to its end (and is not a bundle)');
});
