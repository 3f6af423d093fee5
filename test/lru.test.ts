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
