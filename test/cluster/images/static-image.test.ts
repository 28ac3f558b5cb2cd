// The pause image and the static-binary helper: the archive imports into a real containerd and
// runs there (pause answers -v, stops on SIGTERM); a dynamically linked binary is refused.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { ensureDebianPackages } from './apt.js';
import { startContainerd, type PrivateContainerd } from './containerd.js';
import { ociArchive } from './oci-archive.js';
import { pauseBinary, pauseImage } from './pause.js';
import { elfInterpreter, staticBinaryImage, staticLayer } from './static-image.js';

let containerd: PrivateContainerd;
test.before(async () => {
  containerd = await startContainerd(`static-${process.pid}`);
});
test.after.always(async () => {
  await containerd?.close();
});

test('the same binary gives the same archive bytes and digest', async (t) => {
  const binary = await readFile(await pauseBinary());
  const image = { name: 'example.test/pause:1', layers: [staticLayer('/pause', binary, [])], config: { Entrypoint: ['/pause'] } };
  const a = ociArchive(image);
  const b = ociArchive(image);
  t.is(a.digest, b.digest);
  t.true(a.archive.equals(b.archive));
});

test('the pause image imports into containerd, prints its version and stops on SIGTERM', async (t) => {
  const image = await pauseImage('example.test/v6/pause:test');
  t.is(image.name, 'example.test/v6/pause:test');
  t.regex(await containerd.ctr(['images', 'import', image.archive]), /unpacking example\.test\/v6\/pause:test/);
  t.regex(await containerd.ctr(['images', 'ls', '-q']), /example\.test\/v6\/pause:test/);
  t.regex(await containerd.runImage(image.name, 'pause-version', { args: ['/pause', '-v'] }), /^pause /);

  const started = Date.now();
  const running = containerd.runImage(image.name, 'pause-sigterm');
  for (let i = 0; i < 50 && !(await containerd.ctr(['task', 'ls', '-q'])).includes('pause-sigterm'); i++) await delay(100);
  await containerd.ctr(['task', 'kill', '-s', 'SIGTERM', 'pause-sigterm']);
  await running;
  t.true(Date.now() - started < 10_000);
});

test('the image runs as the user it was given and has only its files', async (t) => {
  await ensureDebianPackages(['busybox-static']);
  const image = await staticBinaryImage({
    name: 'example.test/v6/static:test',
    binary: '/usr/bin/busybox',
    path: '/bin/busybox',
    files: [{ path: '/etc/greeting', data: 'hello\n' }],
    user: '1234:1234',
    cmd: ['sh', '-c', 'id -u; cat /etc/greeting; ls /'],
  });
  await containerd.ctr(['images', 'import', image.archive]);
  const out = await containerd.runImage(image.name, 'static-busybox');
  t.is(out.split('\n').slice(0, 2).join('\n'), '1234\nhello');
  // /proc, /dev, /sys, /run (the runtime's mounts) and /bin, /etc (ours): nothing else.
  t.deepEqual(out.split('\n').slice(2).filter(Boolean).sort(), ['bin', 'dev', 'etc', 'proc', 'run', 'sys']);
});

test('a dynamically linked binary is refused with what to do', async (t) => {
  t.is(elfInterpreter(await readFile(await pauseBinary())), undefined);
  const error = await t.throwsAsync(staticBinaryImage({ name: 'x', binary: '/usr/bin/ls' }));
  t.regex(error.message, /dynamically linked .*ld-linux.*gcc -static/);
});
