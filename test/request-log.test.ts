import test from 'ava';
import { batchedWriter } from '../gateway/batched-writer.ts';
import { startRegistryProcess } from './helpers/process.ts';
import { tempDir } from './helpers/registry.ts';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

test('lines written in one turn of the event loop go out in one write, in order', async (t) => {
  const writes: string[] = [];
  const out = batchedWriter((text) => writes.push(text));
  out.write('one\n');
  out.write('two\n');
  t.deepEqual(writes, [], 'nothing is written before the end of the turn');
  await nextTurn();
  t.deepEqual(writes, ['one\ntwo\n']);
  out.write('three\n');
  await nextTurn();
  await nextTurn();
  t.deepEqual(writes, ['one\ntwo\n', 'three\n']);
});

test('flush writes what is pending at once, and a large burst does not wait for the turn to end', async (t) => {
  const writes: string[] = [];
  const out = batchedWriter((text) => writes.push(text));
  out.write('pending\n');
  out.flush();
  t.deepEqual(writes, ['pending\n']);
  out.flush();
  t.is(writes.length, 1, 'nothing pending, nothing written');
  const line = `${'x'.repeat(1023)}\n`;
  for (let i = 0; i < 100; i++) out.write(line);
  t.true(writes.length >= 2, 'a burst over 64 KiB is written within the turn');
  await nextTurn();
  t.is(writes.slice(1).join(''), line.repeat(100));
});

test('the registry process logs one line per request, fast path or not, and none is lost at exit', async (t) => {
  const registry = await startRegistryProcess({ REGISTRY_DATA: tempDir() });
  t.teardown(() => registry.stop('SIGKILL'));
  const targets = ['/index/config.json', '/index/missing.json', '/packages'];
  const counts = new Map<string, number>();
  for (let round = 0; round < 20; round++) {
    await Promise.all(
      targets.map(async (target) => {
        for (let i = 0; i < 5; i++) {
          const res = await fetch(`${registry.url}${target}`);
          await res.arrayBuffer();
          counts.set(target, (counts.get(target) ?? 0) + 1);
        }
      }),
    );
  }
  t.deepEqual(await registry.stop('SIGTERM'), { code: 0, signal: null });
  const lines = registry
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { event: string; path?: string; status?: number });
  for (const target of targets) {
    const logged = lines.filter((line) => line.event === 'request' && line.path === target);
    t.is(logged.length, counts.get(target) ?? 0, target);
  }
  t.is(lines.filter((line) => line.event === 'request' && line.path === '/index/missing.json' && line.status === 404).length, 100);
  t.is(lines.at(-1)?.event, 'closed', 'the lines of the last turn are written at exit');
});
