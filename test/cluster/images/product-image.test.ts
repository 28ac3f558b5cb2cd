// The product image, built from the repository's Dockerfile on the node:24-slim made here, runs in
// a real containerd: its default command prints the CLI's help, it runs as 1000:1000, its files
// are root-owned and not writable by that user, and nothing of the build's host config is left in it.
import test from 'ava';
import { startContainerd, type PrivateContainerd } from './containerd.js';
import { productImage } from './product-image.js';

let containerd: PrivateContainerd;
let name: string;
test.before(async () => {
  const image = await productImage({ verbose: false });
  name = image.name;
  containerd = await startContainerd(`product-${process.pid}`);
  await containerd.ctr(['images', 'import', image.archive]);
});
test.after.always(async () => {
  await containerd?.close();
});

test('the default command is the CLI with --help', async (t) => {
  const out = await containerd.runImage(name, 'product-help');
  t.regex(out, /v6-node/);
  t.regex(out, /\bstart\b/);
  t.regex(out, /\bproxy\b/);
});

test('node /app/dist/agent/cli.js --help runs on the image’s Node 24', async (t) => {
  const out = await containerd.runImage(name, 'product-node', { args: ['node', '/app/dist/agent/cli.js', '--help'] });
  t.regex(out, /\bstart\b/);
  t.regex(await containerd.runImage(name, 'product-version', { args: ['node', '--version'] }), /^v24\./);
});

test('it runs as 1000:1000 and cannot write its own files, which root owns', async (t) => {
  const script = [
    'id -u; id -g',
    'stat -c "%u:%g" /app /app/dist/agent/cli.js /app/node_modules /app/package.json',
    'touch /app/dist/x 2>/dev/null && echo writable || echo read-only',
    'find /app ! -user 0 | head -5',
  ].join('; ');
  const out = (await containerd.runImage(name, 'product-user', { args: ['sh', '-c', script] })).trim().split('\n');
  t.deepEqual(out, ['1000', '1000', '0:0', '0:0', '0:0', '0:0', 'read-only']);
});

test('the build-time registry config (CA bundle, npmrc, pip.conf mounts) is not in the image', async (t) => {
  const out = await containerd.runImage(name, 'product-clean', {
    args: ['sh', '-c', 'for f in /usr/local/etc/npmrc /etc/pip.conf /etc/ssl/certs/ca-certificates.crt /root/.npm; do test -s $f && echo $f; done; echo end'],
  });
  t.is(out.trim(), 'end');
});
