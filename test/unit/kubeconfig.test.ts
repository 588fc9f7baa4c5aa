import t from 'tap';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { inClusterCredentials, kubeconfigCredentials, loadCredentials } from '../../src/watcher/kubeconfig.ts';
import { readLines } from '../../src/watcher/kube-client.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'kubeconfig-test-'));
}

t.test('client certificate inline, CA from a file relative to the kubeconfig', async (t) => {
  const d = dir();
  mkdirSync(join(d, 'pki'));
  writeFileSync(join(d, 'pki/ca.crt'), 'CA-PEM');
  writeFileSync(
    join(d, 'config'),
    `apiVersion: v1
kind: Config
current-context: b
contexts:
- name: a
  context: {cluster: other, user: nobody}
- name: b
  context: {cluster: local, user: admin}
clusters:
- name: other
  cluster: {server: "https://other:6443"}
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: pki/ca.crt
    tls-server-name: kubernetes
users:
- name: admin
  user:
    client-certificate-data: ${b64('CERT-PEM')}
    client-key-data: ${b64('KEY-PEM')}
`,
  );
  const c = await kubeconfigCredentials(join(d, 'config'));
  t.equal(c.server, 'https://127.0.0.1:6443', 'current context, trailing slash dropped');
  t.same(c.tls, { ca: 'CA-PEM', cert: 'CERT-PEM', key: 'KEY-PEM', rejectUnauthorized: true, servername: 'kubernetes' });
  t.same(await c.authHeaders(), {});
});

t.test('bearer token, token file, basic auth, insecure-skip-tls-verify', async (t) => {
  const d = dir();
  writeFileSync(join(d, 'token'), 'file-token\n');
  const doc = (user: string) => `current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://h:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: ${user}}]
`;
  writeFileSync(join(d, 'token.yaml'), doc('{token: inline-token}'));
  writeFileSync(join(d, 'file.yaml'), doc('{tokenFile: token}'));
  writeFileSync(join(d, 'basic.yaml'), doc('{username: ann, password: "p:w"}'));
  const token = await kubeconfigCredentials(join(d, 'token.yaml'));
  t.same(await token.authHeaders(), { authorization: 'Bearer inline-token' });
  t.equal(token.tls.rejectUnauthorized, false);
  t.same(await (await kubeconfigCredentials(join(d, 'file.yaml'))).authHeaders(), { authorization: 'Bearer file-token' }, 'tokenFile, relative to the kubeconfig, trimmed');
  t.same(await (await kubeconfigCredentials(join(d, 'basic.yaml'))).authHeaders(), { authorization: `Basic ${b64('ann:p:w')}` });
});

t.test('a $KUBECONFIG list merges: the first current-context and the first entry of a name win', async (t) => {
  const d = dir();
  writeFileSync(join(d, 'one'), `contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://first:1"}}]
`);
  writeFileSync(join(d, 'two'), `current-context: x
clusters: [{name: c, cluster: {server: "https://second:1"}}]
users: [{name: u, user: {token: t2}}]
`);
  const c = await loadCredentials({ kubeconfig: `${join(d, 'one')}:${join(d, 'two')}`, serviceHost: undefined, servicePort: undefined });
  t.equal(c.server, 'https://first:1');
  t.same(await c.authHeaders(), { authorization: 'Bearer t2' });
});

t.test('bad kubeconfigs say what is wrong and where', async (t) => {
  const d = dir();
  const write = (name: string, text: string) => {
    writeFileSync(join(d, name), text);
    return join(d, name);
  };
  await t.rejects(kubeconfigCredentials(write('yaml', 'clusters: [')), /kubeconfig .*yaml: /);
  await t.rejects(kubeconfigCredentials(write('empty', '')), /kubeconfig .*empty: .*empty/);
  await t.rejects(kubeconfigCredentials(write('none', 'kind: Config\n')), /no contexts/);
  await t.rejects(kubeconfigCredentials(write('ctx', 'current-context: nope\ncontexts: [{name: x, context: {cluster: c}}]\n')), /context "nope" not found/);
  await t.rejects(kubeconfigCredentials(write('cluster', 'contexts: [{name: x, context: {cluster: c}}]\n')), /cluster "c" not found/);
  await t.rejects(kubeconfigCredentials(write('server', 'contexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {}}]\n')), /has no server/);
  await t.rejects(
    kubeconfigCredentials(write('proxy', 'contexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: "https://h", proxy-url: "http://p"}}]\n')),
    /proxy-url is not supported/,
  );
  await t.rejects(kubeconfigCredentials(join(d, 'missing')), /ENOENT/);
});

t.test('in-cluster: service address, CA and a token re-read from its file', async (t) => {
  const d = dir();
  writeFileSync(join(d, 'ca.crt'), 'CLUSTER-CA');
  writeFileSync(join(d, 'token'), 'sa-token\n');
  const c = inClusterCredentials({ serviceHost: 'fd00::1', servicePort: '443' }, d);
  t.equal(c.server, 'https://[fd00::1]:443', 'IPv6 host bracketed');
  t.same(c.tls, { ca: 'CLUSTER-CA', rejectUnauthorized: true });
  t.same(await c.authHeaders(), { authorization: 'Bearer sa-token' });
  t.throws(() => inClusterCredentials({ serviceHost: undefined, servicePort: undefined }, d), /not running in a cluster/);
});

t.test('readLines: lines split across chunks and multi-byte characters split across chunks', async (t) => {
  const s = new PassThrough();
  const lines: string[] = [];
  const done = readLines(s, (l) => lines.push(l));
  const bytes = Buffer.from('{"a":"é"}\n\n{"b":1}\n{"c":"日本"}');
  // one byte at a time: every boundary, including inside the UTF-8 sequences
  for (let i = 0; i < bytes.length; i++) s.write(bytes.subarray(i, i + 1));
  s.end();
  await done;
  t.same(lines, ['{"a":"é"}', '{"b":1}', '{"c":"日本"}'], 'empty lines skipped, last line without newline kept');
});

t.test('readLines: a throwing handler or a cut stream rejects', async (t) => {
  const s1 = new PassThrough();
  const p1 = readLines(s1, (l) => JSON.parse(l));
  s1.write('{"ok":1}\nnot json\n');
  await t.rejects(p1, SyntaxError);
  const s2 = new PassThrough();
  const p2 = readLines(s2, () => {});
  s2.write('{"ok":1}\n');
  s2.destroy();
  await t.rejects(p2, /closed before its end/);
  const s3 = new PassThrough();
  const p3 = readLines(s3, () => {});
  s3.destroy(new Error('ECONNRESET'));
  await t.rejects(p3, /ECONNRESET/);
});
