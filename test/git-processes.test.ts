import test from 'ava';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { bundle } from './helpers/bundle.ts';
import { published } from './helpers/fixtures.ts';
import { tempDir } from './helpers/registry.ts';
import { gitClient } from './helpers/git.ts';
import { hangingFetch, servingProcesses, servingRegistry, spawners, waitUntil, watchProcesses } from './helpers/git-serving.ts';

test.serial('a burst of clones beyond the limit all complete, never more processes than the limit, fetches at a lower priority', async (t) => {
  const { reg } = await servingRegistry(t, { GIT_PROCESSES: '2', GIT_QUEUE: '100' }, 200_000);
  const ownNice = Number(fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ')[16]);
  const watch = watchProcesses();
  const runs = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      i % 3 === 0
        ? gitClient(['ls-remote', '--tags', `${reg.url}/git/acme/served.git`])
        : gitClient(['clone', '--quiet', '--depth', '1', '--branch', '1.0.0', `${reg.url}/git/acme/served.git`, path.join(tempDir(), 'c')]),
    ),
  );
  const { most, nice } = watch.stop();
  for (const run of runs) t.is(run.code, 0, run.stderr);
  t.log(`at most ${most} git http-backend processes alive at once; nice values ${[...nice].join(', ')}`);
  t.true(most >= 1 && most <= 2, `${most} processes at once`);
  // Ref listings run at the registry's priority, the fetches (the clones' packs) at the lower one.
  t.true([...nice].every((n) => n === ownNice || n === Math.min(19, ownNice + 10)), [...nice].join(', '));
  t.true(nice.has(Math.min(19, ownNice + 10)));
  t.deepEqual(reg.registry.deps.git.counts(), { running: 0, waiting: 0 });
});

test.serial("ref listings run at the registry's CPU priority, fetches 10 lower, in protocols v2 and v0", async (t) => {
  const { reg } = await servingRegistry(t, {});
  const ownNice = Number(fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ')[16]);
  // The registry finds this `git` first: it notes its nice value, the request's method and the
  // start of its body, then runs the real one.
  const bin = tempDir();
  const seen = path.join(bin, 'seen');
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  fs.symlinkSync(execFileSync('sh', ['-c', 'command -v nice'], { encoding: 'utf8' }).trim(), path.join(bin, 'nice'));
  const script = [
    '#!/bin/sh',
    'PATH=/usr/local/bin:/usr/bin:/bin',
    'nice=$(cut -d" " -f19 /proc/$$/stat)',
    'if [ "$REQUEST_METHOD" != POST ]; then',
    `  echo "$nice GET" >> ${seen}; exec ${realGit} "$@"`,
    'fi',
    `body=$(mktemp -p ${bin})`,
    'cat > "$body"',
    `echo "$nice POST $(head -c 60 "$body" | tr -c "a-z=-" .)" >> ${seen}`,
    `exec ${realGit} "$@" < "$body"`,
  ].join('\n');
  fs.writeFileSync(path.join(bin, 'git'), `${script}\n`, { mode: 0o755 });
  const saved = process.env['PATH'];
  process.env['PATH'] = bin;
  const client = { env: { PATH: saved ?? '' } };
  const url = `${reg.url}/git/acme/served.git`;
  try {
    for (const protocol of ['2', '0']) {
      t.is((await gitClient(['-c', `protocol.version=${protocol}`, 'ls-remote', url], client)).code, 0);
      t.is((await gitClient(['-c', `protocol.version=${protocol}`, 'clone', '--quiet', '--depth', '1', '--branch', '1.0.0', url, path.join(tempDir(), 'c')], client)).code, 0);
    }
  } finally {
    process.env['PATH'] = saved;
  }
  const lines = fs.readFileSync(seen, 'utf8').trim().split('\n');
  t.log(lines.join('\n'));
  const lowered = Math.min(19, ownNice + 10);
  const kinds = lines.map((line) => {
    const [nice, method, body = ''] = line.split(' ');
    const kind = method === 'GET' ? 'advertisement' : body.includes('command=ls-refs') ? 'ls-refs' : 'fetch';
    return `${kind} ${Number(nice) === ownNice ? 'registry' : Number(nice) === lowered ? 'lowered' : nice}`;
  });
  // v2: ls-remote is an advertisement and ls-refs; a clone adds a fetch. v0: no ls-refs, and a
  // shallow clone fetches in two requests.
  t.deepEqual(kinds.slice(0, 5), ['advertisement registry', 'ls-refs registry', 'advertisement registry', 'ls-refs registry', 'fetch lowered']);
  t.deepEqual([...new Set(kinds.slice(5))], ['advertisement registry', 'fetch lowered']);
});

test.serial('over the queue length, a request is answered 503 with Retry-After', async (t) => {
  const { reg } = await servingRegistry(t, { GIT_PROCESSES: '1', GIT_QUEUE: '1' });
  const first = hangingFetch(reg);
  t.is((await first.response).statusCode, 200);
  const second = hangingFetch(reg);
  await waitUntil(t, 'the second request waits', () => reg.registry.deps.git.counts().waiting === 1);
  const third = await fetch(`${reg.url}/git/acme/served.git/info/refs?service=git-upload-pack`);
  t.is(third.status, 503);
  t.is(third.headers.get('retry-after'), '5');
  t.is(((await third.json()) as { error: string }).error, 'unavailable');
  // Git itself, told to retry, then gets through once the slot is free.
  first.request.destroy();
  t.is((await second.response).statusCode, 200);
  second.request.destroy();
  await waitUntil(t, 'every process ended', () => servingProcesses().length === 0);
  const after = await gitClient(['ls-remote', `${reg.url}/git/acme/served.git`]);
  t.is(after.code, 0, after.stderr);
});

test.serial("an aborted request's process group is gone at once, waiting or running, and logged as stopped, not as an error", async (t) => {
  const { reg } = await servingRegistry(t, { GIT_PROCESSES: '1' });
  const running = hangingFetch(reg);
  await running.response;
  const waiting = hangingFetch(reg);
  await waitUntil(t, 'the second request waits', () => reg.registry.deps.git.counts().waiting === 1);
  t.is(servingProcesses().length, 1);
  waiting.request.destroy();
  await waitUntil(t, 'the waiting request leaves the queue', () => reg.registry.deps.git.counts().waiting === 0);
  running.request.destroy();
  const ms = await waitUntil(t, 'the process is gone', () => servingProcesses().length === 0);
  t.log(`gone ${ms.toFixed(0)} ms after the client hung up`);
  t.true(ms < 1000);
  await waitUntil(t, 'the slot is free', () => reg.registry.deps.git.counts().running === 0);
  await waitUntil(t, 'its end is logged', () => reg.log.lines.some((l) => l.event === 'git_stopped' && l.reason === 'aborted'));
  t.false(reg.log.lines.some((l) => l.level === 'error'), JSON.stringify(reg.log.lines.filter((l) => l.level === 'error')));
});

test.serial('a request that runs out of time is killed and its connection dropped', async (t) => {
  const { reg } = await servingRegistry(t, { GIT_PROCESSES: '1', GIT_TIMEOUT_SECONDS: '1' });
  const started = performance.now();
  const slow = hangingFetch(reg);
  const response = await slow.response;
  t.is(response.statusCode, 200);
  const ended = new Promise<string>((resolve) => {
    response.on('error', () => resolve('dropped'));
    response.on('aborted', () => resolve('dropped'));
    response.on('end', () => resolve('ended'));
    response.resume();
  });
  t.is(await ended, 'dropped');
  const ms = performance.now() - started;
  t.true(ms >= 900 && ms < 5000, `${ms} ms`);
  await waitUntil(t, 'the process is gone', () => servingProcesses().length === 0);
  await waitUntil(t, 'its end is logged', () => reg.log.lines.some((l) => l.event === 'git_stopped' && l.reason === 'timeout'));
  t.false(reg.log.lines.some((l) => l.level === 'error'));
});

test.serial('a publish during a burst of clones completes in reasonable time', async (t) => {
  const { reg, token } = await servingRegistry(t, { GIT_PROCESSES: '2', GIT_QUEUE: '200', PUBLISH_BURST: '100000' }, 2_000_000);
  const timePublish = async (version: string) => {
    const started = performance.now();
    await published(reg.url, token, 'acme/busy', version, bundle({ name: 'acme/busy', version, padding: 30_000 }));
    return performance.now() - started;
  };
  const quiet = [await timePublish('1.0.0'), await timePublish('1.0.1')];
  let stop = false;
  const cloners = Array.from({ length: 8 }, async () => {
    let clones = 0;
    while (!stop) {
      const run = await gitClient(['clone', '--quiet', '--mirror', `${reg.url}/index.git`, path.join(tempDir(), 'm.git')]);
      if (run.code !== 0) throw new Error(run.stderr);
      clones++;
    }
    return clones;
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const busy: number[] = [];
  const started = performance.now();
  while (busy.length < 5 || performance.now() - started < 3000) busy.push(await timePublish(`1.1.${busy.length}`));
  stop = true;
  const clones = (await Promise.all(cloners)).reduce((a, b) => a + b, 0);
  const sorted = [...busy].sort((a, b) => a - b);
  t.log(`publish alone: ${quiet.map((ms) => ms.toFixed(0)).join(', ')} ms; ${busy.length} publishes during ${clones} mirror clones: median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms, slowest ${sorted.at(-1)?.toFixed(0)} ms`);
  t.true(clones > 8, 'the clones went on during the publishes');
  for (const ms of busy) t.true(ms < 10_000, `a publish took ${ms} ms during the clones`);
});

test.serial('a spawner process killed with SIGKILL is started again for the next request', async (t) => {
  const { reg } = await servingRegistry(t, {});
  const url = `${reg.url}/git/acme/served.git`;
  t.is((await gitClient(['ls-remote', url])).code, 0);
  const [spawner] = spawners();
  t.truthy(spawner);
  process.kill(spawner as number, 'SIGKILL');
  await waitUntil(t, 'the spawner is gone', () => !spawners().includes(spawner as number));
  const run = await gitClient(['ls-remote', '--tags', url]);
  t.is(run.code, 0, run.stderr);
  t.true(run.stdout.includes('refs/tags/1.0.0'));
  t.is(spawners().length, 1);
});
