import t from 'tap';
import { createHash } from 'node:crypto';
import { hashConfigMap, hashSecret } from '../../src/core/hash.ts';

const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest('hex');
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

t.test('DESIGN.md §3 test vectors', async (t) => {
  t.equal(hashConfigMap({}), 'da39a3ee5e6b4b0d3255bfef95601890afd80709', 'empty ConfigMap is sha1("")');
  t.equal(hashConfigMap(undefined, undefined), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
  t.equal(hashSecret({}), 'da39a3ee5e6b4b0d3255bfef95601890afd80709', 'empty Secret is sha1("")');
  t.equal(hashConfigMap({ test: 'test' }), 'b3cefbcce711f8574b0e66c41fc1dcf06eb5b6db');
  t.equal(
    hashConfigMap({ test: 'test' }, { bintest: b64('test') }),
    '0d58150de76a895b24f4ca213f590766160c4349',
  );
  t.equal(sha1('bintest=dGVzdA==;test=test'), '0d58150de76a895b24f4ca213f590766160c4349', 'vector input string');
});

t.test('key order does not matter', async (t) => {
  const a = hashConfigMap({ b: '2', a: '1', c: '3' });
  const b = hashConfigMap({ c: '3', a: '1', b: '2' });
  t.equal(a, b);
  t.equal(a, sha1('a=1;b=2;c=3'));
  t.equal(hashSecret({ y: b64('2'), x: b64('1') }), hashSecret({ x: b64('1'), y: b64('2') }));
});

t.test('sorting is by bytes of the whole k=v string', async (t) => {
  // '.' is 0x2e and '=' is 0x3d: "a.b=2" < "a=1" although "a" < "a.b" as keys.
  t.equal(hashConfigMap({ a: '1', 'a.b': '2' }), sha1('a.b=2;a=1'));
  // UTF-16 order would put U+FF5E (～) before U+1F600 (😀, a surrogate pair
  // starting 0xD83D); UTF-8 byte order puts EF BD 9E before F0 9F 98 80.
  t.equal(hashConfigMap({ '😀': 'x', '～': 'y' }), sha1('～=y;😀=x'));
  t.equal(hashConfigMap({ '\uE000': 'x', '😀': 'y' }), sha1('\uE000=x;😀=y'));
  // upper case sorts before lower case in bytes
  t.equal(hashConfigMap({ b: '1', B: '2' }), sha1('B=2;b=1'));
});

t.test('data and binaryData form one sorted list', async (t) => {
  t.equal(hashConfigMap({ z: 'last' }, { a: b64(Buffer.from([0, 255])) }), sha1(`a=${b64(Buffer.from([0, 255]))};z=last`));
  // non-canonical (unpadded) base64 on input is normalised like Go re-encoding
  t.equal(hashConfigMap({}, { k: 'dGVzdA' }), sha1('k=dGVzdA=='));
});

t.test('Secret bytes that are not UTF-8 hash like Go', async (t) => {
  const raw = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]);
  const expected = sha1(Buffer.concat([Buffer.from('bin='), raw, Buffer.from(';txt=hello')]));
  t.equal(hashSecret({ txt: b64('hello'), bin: raw.toString('base64') }), expected);
  // decoding as text would replace invalid bytes with U+FFFD and change the hash
  const lossy = sha1('bin=' + raw.toString('utf8') + ';txt=hello');
  t.not(hashSecret({ txt: b64('hello'), bin: raw.toString('base64') }), lossy);
  // sort by bytes: 0xff value bytes do not matter, keys decide here
  t.equal(hashSecret({ a: Buffer.from([0xff]).toString('base64'), 'a.b': b64('x') }),
    sha1(Buffer.concat([Buffer.from('a.b=x;a='), Buffer.from([0xff])])));
});

t.test('values containing separators are hashed verbatim', async (t) => {
  t.equal(hashConfigMap({ k: 'a=b;c=d\n' }), sha1('k=a=b;c=d\n'));
  t.equal(hashConfigMap({ k: '' }), sha1('k='));
});
