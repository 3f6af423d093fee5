import test from 'ava';
import { compareVersions, inRange, isVersion, parseRange } from '../gateway/packages/range.ts';

const range = (text: string) => {
  const parsed = parseRange(text);
  if (!parsed) throw new Error(`expected ${text} to parse`);
  return parsed;
};

test('<= low, < high: the low bound is in, the high bound is out', (t) => {
  const r = range('0.6.0 <= v < 0.7.0');
  t.true(inRange('0.6.0', r));
  t.true(inRange('0.6.9', r));
  t.false(inRange('0.7.0', r));
  t.false(inRange('0.5.99', r));
});

test('< low: the low bound itself is out', (t) => {
  const r = range('1.0.0 < v < 2.0.0');
  t.false(inRange('1.0.0', r));
  t.true(inRange('1.0.1', r));
  t.true(inRange('1.99.0', r));
  t.false(inRange('2.0.0', r));
});

test('<= high: the high bound itself is in', (t) => {
  const r = range('1.0.0 <= v <= 2.0.0');
  t.true(inRange('1.0.0', r));
  t.true(inRange('2.0.0', r));
  t.false(inRange('2.0.1', r));
});

test('< on both sides', (t) => {
  const r = range('1.2.3 < v < 1.2.5');
  t.deepEqual(['1.2.3', '1.2.4', '1.2.5'].map((v) => inRange(v, r)), [false, true, false]);
});

test('a range of exactly one version', (t) => {
  const r = range('3.0.0 <= v <= 3.0.0');
  t.true(inRange('3.0.0', r));
  t.false(inRange('3.0.1', r));
  t.false(inRange('2.9.9', r));
});

test('the parsed range keeps its bounds', (t) => {
  t.like(range('1.0.0 < v <= 2.0.0'), { low: '1.0.0', lowInclusive: false, high: '2.0.0', highInclusive: true, text: '1.0.0 < v <= 2.0.0' });
});

test('malformed or empty ranges are refused', (t) => {
  for (const text of [
    '',
    '1.0.0',
    '>=1.0.0 <2.0.0',
    '1.0.0 <= v',
    '1.0.0 > v > 0.5.0',
    '1.0 <= v < 2.0.0',
    '01.0.0 <= v < 2.0.0',
    '1.0.0 <= x < 2.0.0',
    '1.0.0  <= v < 2.0.0',
    ' 1.0.0 <= v < 2.0.0',
    '1.0.0 <= v < 2.0.0-beta',
    '2.0.0 <= v < 1.0.0',
    '1.0.0 <= v < 1.0.0',
    '1.0.0 < v <= 1.0.0',
    '1.0.0 < v < 1.0.1',
  ]) {
    t.is(parseRange(text), null, text);
  }
});

test('versions: three integers without leading zeros', (t) => {
  t.true(isVersion('0.0.0'));
  t.true(isVersion('10.20.30'));
  for (const text of ['1.0', '1.0.0.0', '01.0.0', '1.00.0', 'v1.0.0', '1.0.0-beta', '1.0.0+build', '', '1..0']) t.false(isVersion(text), text);
});

test('versions compare numerically, not as text', (t) => {
  t.deepEqual(['1.10.0', '1.2.0', '1.9.9', '0.10.0'].sort(compareVersions), ['0.10.0', '1.2.0', '1.9.9', '1.10.0']);
});

test("each number is at most 65535, the compiler's 16 bits; beyond, the version or range is refused", (t) => {
  t.true(isVersion('65535.65535.65535'));
  for (const text of ['65536.0.0', '0.65536.0', '0.0.65536', '99999999999999999999.0.0', `${'9'.repeat(400)}.0.0`]) t.false(isVersion(text), text);
  t.truthy(parseRange('1.0.0 <= v <= 65535.65535.65535'));
  t.is(parseRange('1.0.0 <= v < 65536.0.0'), null);
  t.is(parseRange('99999999999999999999.0.0 <= v < 99999999999999999999.0.1'), null);
});

test('versions already registered beyond those bounds still compare, exactly, and never throw', (t) => {
  const huge = '99999999999999999999.0.0';
  t.deepEqual(['2.0.0', huge, '99999999999999999998.0.0', '1.0.0'].sort(compareVersions), ['1.0.0', '2.0.0', '99999999999999999998.0.0', huge]);
  t.is(compareVersions(huge, huge), 0);
  t.false(inRange(huge, range('1.0.0 <= v <= 65535.0.0')));
});
