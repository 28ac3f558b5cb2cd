// A test algorithm image from a Dockerfile folder: `FROM python:3.11-slim` is made here from
// Debian's python3, `RUN pip install` reaches the registry, and the image runs in containerd.
import test from 'ava';
import { join } from 'node:path';
import { buildFolderImage } from './bases.js';
import { startContainerd } from './containerd.js';

test('a Python algorithm image with a pip-installed package builds and runs as its user', async (t) => {
  const image = await buildFolderImage({
    context: join(import.meta.dirname, 'fixtures', 'python-algorithm'),
    name: 'example.test/v6/python-algorithm:test',
    verbose: false,
  });
  const containerd = await startContainerd(`folder-${process.pid}`);
  t.teardown(() => containerd.close());
  await containerd.ctr(['images', 'import', image.archive]);
  t.is((await containerd.runImage(image.name, 'python-algorithm')).trim(), 'algorithm ok: six 1.16.0, uid 1000');
});
