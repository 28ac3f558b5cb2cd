// Pushing an archive made here to a registry with basic auth: it arrives with the same manifest
// digest, and a push without credentials is refused.
import test from 'ava';
import { pauseImage } from './pause.js';
import { pushArchive } from './push.js';
import { startRegistry, type TestRegistry } from './registry.js';
import { run } from './run.js';

let registry: TestRegistry;
test.before(async () => {
  registry = await startRegistry(`push-${process.pid}`);
});
test.after.always(async () => {
  await registry?.close();
});

test('a push with credentials lands with the archive’s digest', async (t) => {
  const image = await pauseImage();
  const reference = `${registry.address}/v6/pause:3.10`;
  t.is(await pushArchive(image.archive, reference, { creds: registry.creds }), image.digest);
  const inspected = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--creds', registry.creds, `docker://${reference}`])) as { Digest: string };
  t.is(inspected.Digest, image.digest);
});

test('a push without credentials is refused', async (t) => {
  const image = await pauseImage();
  const error = await t.throwsAsync(pushArchive(image.archive, `${registry.address}/v6/pause:anonymous`));
  t.regex(error.message, /unauthorized|authentication required/i);
});
