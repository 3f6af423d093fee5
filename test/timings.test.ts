import test from 'ava';
import { bundle } from './helpers/bundle.ts';
import { publisher, published } from './helpers/fixtures.ts';
import { startRegistryWithMail } from './helpers/accounts.ts';

test('with LOG_TIMINGS, each publish logs where its time went, stage by stage; without, nothing', async (t) => {
  const timed = await startRegistryWithMail({ env: { LOG_TIMINGS: '1' } });
  t.teardown(() => timed.close());
  const token = await publisher(timed, 'robin@example.com', ['acme']);
  const started = performance.now();
  await published(timed.url, token, 'acme/lib', '1.0.0', bundle({ name: 'acme/lib', version: '1.0.0', padding: 20_000 }));
  const elapsed = performance.now() - started;
  const line = timed.log.lines.find((l) => l.event === 'publish_timings') as Record<string, number> | undefined;
  t.truthy(line);
  const stages = ['authenticated', 'body_received', 'decode_waited', 'inflated', 'decoded', 'sha256', 'validated', 'package_locked', 'commit_queued', 'commit_plans', 'commit_write_waited', 'commit_prepared', 'commit_pack_encoded', 'commit_record', 'commit_served_staged', 'commit_files_written', 'commit_log_flushed', 'commit_installed', 'commit_served_published', 'commit_writer_trip', 'commit_state_updated', 'notification_recorded', 'catalog_updated'];
  for (const stage of stages) t.true(typeof line?.[stage] === 'number' && (line[stage] as number) >= 0, `${stage}: ${line?.[stage]}`);
  t.is(line?.batch, 1);
  const sum = stages.reduce((total, stage) => total + (line?.[stage] ?? 0), 0) + (line?.commit ?? 0);
  t.true(Math.abs(sum - (line?.total ?? 0)) < 0.05, `the stages add up to the total (${sum} against ${line?.total})`);
  t.true((line?.total ?? 0) <= elapsed, 'and the total is within what the client waited');

  const plain = await startRegistryWithMail();
  t.teardown(() => plain.close());
  const other = await publisher(plain, 'robin@example.com', ['acme']);
  await published(plain.url, other, 'acme/lib', '1.0.0', bundle({ name: 'acme/lib', version: '1.0.0' }));
  t.false(plain.log.lines.some((l) => l.event === 'publish_timings'));
});
