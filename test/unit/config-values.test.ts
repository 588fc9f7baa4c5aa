import t from 'tap';
import { DurationSyntaxError, MAX_TIMER_MS, formatDuration, parseGoDuration } from '../../src/config/duration.ts';
import {
  buildLabelSelector,
  checkAnnotationKey,
  isDnsLabel,
  isDnsName,
  isDnsSubdomain,
  isGoBool,
  isIpAddress,
  isLabelValue,
  isQualifiedName,
  parseGoBool,
  splitList,
} from '../../src/config/values.ts';

t.test('parseGoDuration follows time.ParseDuration', async (t) => {
  const ok: [string, number][] = [
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['0s', 0],
    ['1ns', 1e-6],
    ['1us', 0.001],
    ['1µs', 0.001],
    ['1μs', 0.001],
    ['1ms', 1],
    ['1s', 1000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['2h45m30.5s', 9_930_500],
    ['1.5s', 1500],
    ['1.s', 1000],
    ['.25s', 250],
    ['1.1s', 1100],
    ['0.1s', 100],
    ['1.0000000019s', 1000.000001],
    ['-1.5s', -1500],
    ['+2m', 120_000],
    ['100ms100ms', 200],
  ];
  for (const [input, ms] of ok) t.equal(parseGoDuration(input), ms, input);

  const bad: [string, RegExp][] = [
    ['', /not a duration/],
    ['-', /not a duration/],
    ['s', /not a duration/],
    ['.s', /not a duration/],
    ['10', /missing unit/],
    ['1h30', /missing unit/],
    ['1.2.3s', /missing unit/],
    ['5d', /unknown unit "d"/],
    ['5 s', /unknown unit " s"/],
    ['5S', /unknown unit "S"/],
    ['3000000h', /out of range/],
  ];
  for (const [input, message] of bad) {
    t.throws(() => parseGoDuration(input), DurationSyntaxError, input);
    t.throws(() => parseGoDuration(input), { message }, input);
  }
  t.equal(MAX_TIMER_MS, 2147483647);
});

t.test('formatDuration prints like Go', async (t) => {
  const cases: [number, string][] = [
    [0, '0s'],
    [500, '500ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [60_000, '1m0s'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m0s'],
    [3_600_500, '1h0m0.5s'],
    [-2000, '-2s'],
    [-5, '-5ms'],
  ];
  for (const [ms, text] of cases) t.equal(formatDuration(ms), text, text);
  for (const [ms] of cases) t.equal(parseGoDuration(formatDuration(ms)), ms, `round trip ${ms}`);
});

t.test('Go booleans', async (t) => {
  for (const s of ['1', 't', 'T', 'TRUE', 'true', 'True']) t.equal(parseGoBool(s), true, s);
  for (const s of ['0', 'f', 'F', 'FALSE', 'false', 'False']) t.equal(parseGoBool(s), false, s);
  for (const s of ['', 'yes', 'no', 'tRUE', 'on', ' true']) {
    t.throws(() => parseGoBool(s), /must be a boolean/, JSON.stringify(s));
    t.equal(isGoBool(s), false, JSON.stringify(s));
  }
  t.equal(isGoBool('False'), true);
});

t.test('splitList', async (t) => {
  t.same(splitList(''), []);
  t.same(splitList(' , ,'), []);
  t.same(splitList('a'), ['a']);
  t.same(splitList(' a , b ,, c '), ['a', 'b', 'c']);
  t.same(splitList('"a,b",c'), ['a,b', 'c'], 'a quoted item keeps its commas');
  t.same(splitList('"say ""hi""",x'), ['say "hi"', 'x'], 'doubled quote inside quotes');
  t.same(splitList('"team=a"'), ['team=a']);
  t.same(splitList('"unterminated,x'), ['unterminated,x'], 'lenient with an open quote');
});

t.test('names', async (t) => {
  t.ok(isDnsLabel('config-reloader'));
  t.ok(isDnsLabel('a'.repeat(63)));
  t.notOk(isDnsLabel('a'.repeat(64)));
  t.notOk(isDnsLabel('-a'));
  t.notOk(isDnsLabel('A'));
  t.notOk(isDnsLabel(''));
  t.ok(isDnsSubdomain('a.b-c.d'));
  t.notOk(isDnsSubdomain('a..b'));
  t.notOk(isDnsSubdomain(`${'a'.repeat(63)}.`.repeat(4) + 'a'));

  t.ok(isQualifiedName('reloader.stakater.com/auto'));
  t.ok(isQualifiedName('simple_Name.1'));
  t.notOk(isQualifiedName('/x'));
  t.notOk(isQualifiedName('x/'));
  t.notOk(isQualifiedName('UPPER.com/x'));
  t.notOk(isQualifiedName('a/b/c'));
  t.notOk(isQualifiedName('a'.repeat(64)));
  t.notOk(isQualifiedName('-x'));
  t.equal(checkAnnotationKey('example.com/x'), 'example.com/x');
  t.throws(() => checkAnnotationKey(''), /annotation key/);

  t.ok(isLabelValue(''));
  t.ok(isLabelValue('v1.2_x-y'));
  t.notOk(isLabelValue('-v'));
  t.notOk(isLabelValue('a b'));

  t.ok(isDnsName('webhook.example.com'));
  t.ok(isDnsName('Webhook.Example.COM'), 'case-insensitive');
  t.ok(isDnsName('*.example.com'));
  t.ok(isDnsName('localhost'));
  t.notOk(isDnsName('*.'));
  t.notOk(isDnsName(''));
  t.notOk(isDnsName('a.*.com'));
  t.notOk(isDnsName('10.0.0.300'), 'an all-numeric last label is a bad IP');
  t.notOk(isDnsName(`${'a'.repeat(60)}.`.repeat(5) + 'com'), 'longer than 253');

  t.ok(isIpAddress('10.1.2.3'));
  t.ok(isIpAddress('fd00::1'));
  t.notOk(isIpAddress('[::1]'));
  t.notOk(isIpAddress('host'));
});

t.test('buildLabelSelector', async (t) => {
  t.equal(buildLabelSelector([]), '');
  t.equal(buildLabelSelector(['a=b']), 'a=b');
  t.equal(buildLabelSelector(['a==b', 'c!=d', 'e']), 'a==b,c!=d,e');
  t.equal(buildLabelSelector(['a = b']), 'a = b', 'spaces around operators');
  t.equal(buildLabelSelector(['a=']), 'a=', 'empty value');
  t.equal(buildLabelSelector(['a:b', 'c:*', 'd=*', 'e: f']), 'a=b,c,d,e=f', 'Reloader legacy forms');
  t.equal(buildLabelSelector(['example.com/team in (a', 'b)', '!x']), 'example.com/team in (a,b),!x');
  t.equal(buildLabelSelector(['tier notin (web)']), 'tier notin (web)');
  t.equal(buildLabelSelector(['gen>1', 'gen<-3']), 'gen>1,gen<-3');
  t.equal(buildLabelSelector(['! x']), '! x');
  const bad: [string[], RegExp][] = [
    [['a=b c'], /label key/],
    [['x in ()'], /must not be empty/],
    [['x in (a b)'], /label value/],
    [['k=v=w'], /label value/],
    [['k>v'], /integer/],
    [['!'], /label key/],
    [['!A_/b'], /label key/],
    [['Bad.Prefix/k=v'], /label key/],
  ];
  for (const [items, message] of bad) t.throws(() => buildLabelSelector(items), { message }, items.join(','));
});
