import test from 'ava';
import { Lru } from '../index-repo/lru.ts';

test('the least recently used entries go first once the weight passes the limit; a use makes an entry recent', (t) => {
  const lru = new Lru<string, string>(10, (value) => value.length);
  lru.set('a', 'aaaa');
  lru.set('b', 'bbbb');
  t.is(lru.get('a'), 'aaaa');
  lru.set('c', 'cccc');
  t.is(lru.get('b'), undefined, 'b was the least recently used');
  t.is(lru.get('a'), 'aaaa');
  t.is(lru.get('c'), 'cccc');
  t.is(lru.weight, 8);
  lru.set('a', 'a');
  t.is(lru.weight, 5, 'a replaced value weighs what it weighs now');
  lru.set('huge', 'x'.repeat(11));
  t.is(lru.get('huge'), undefined, 'a value over the whole limit is not kept');
  t.is(lru.weight, 5);
});

test('evictions cost the same at any size', (t) => {
  const lru = new Lru<number, number>(100_000);
  for (let i = 0; i < 100_000; i++) lru.set(i, i);
  const started = performance.now();
  for (let i = 100_000; i < 300_000; i++) lru.set(i, i);
  const perEviction = ((performance.now() - started) * 1000) / 200_000;
  t.is(lru.get(199_999), undefined);
  t.is(lru.get(200_000), 200_000);
  t.true(perEviction < 20, `${perEviction.toFixed(2)} µs an eviction (iterating a Map from its start took about 55)`);
});
