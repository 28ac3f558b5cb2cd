// The build cache key: what the repository's Dockerfile takes from outside, and that the context
// hash follows exactly the copied files (a README edit does not rebuild, a source edit does).
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashContext, ignoreMatcher } from './context-hash.js';
import { baseImages, contextSources, parseDockerfile } from './dockerfile.js';

test('the repository Dockerfile starts from node:24-slim only and copies package files, configs and the three source folders', async (t) => {
  const instructions = parseDockerfile(await readFile(new URL('../../../Dockerfile', import.meta.url), 'utf8'));
  t.deepEqual(baseImages(instructions), ['node:24-slim']);
  t.deepEqual([...new Set(contextSources(instructions))].sort(), ['agent', 'package-lock.json', 'package.json', 'proxy', 'queue', 'tsconfig.build.json', 'tsconfig.json']);
});

test('stages are not bases; continuations and flags are parsed; network sources are refused', (t) => {
  const instructions = parseDockerfile('FROM a:1 AS one\nFROM one\nCOPY --chown=1:1 x \\\n  y /dst/\nCOPY --from=one /a /b\n');
  t.deepEqual(baseImages(instructions), ['a:1']);
  t.deepEqual(contextSources(instructions), ['x', 'y']);
  t.throws(() => contextSources(parseDockerfile('ADD https://example.test/x /x\n')), { message: /nothing is fetched/ });
});

test('the context hash changes with a copied file and not with another one', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'v6-context-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'src'));
  await writeFile(join(dir, 'src', 'a.ts'), 'a');
  await writeFile(join(dir, 'README.md'), 'r');
  const first = await hashContext(dir, ['src']);
  t.is(first.files, 1);
  await writeFile(join(dir, 'README.md'), 'r2');
  t.is((await hashContext(dir, ['src'])).hash, first.hash);
  await writeFile(join(dir, 'src', 'a.ts'), 'a2');
  t.not((await hashContext(dir, ['src'])).hash, first.hash);
  await t.throwsAsync(hashContext(dir, ['missing']), { message: /has no missing/ });
});

test('COPY . hashes the whole context less .dockerignore', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'v6-context-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, '.dockerignore'), 'node_modules\n*.log\n');
  await mkdir(join(dir, 'node_modules'));
  await writeFile(join(dir, 'node_modules', 'x.js'), 'x');
  await writeFile(join(dir, 'main.py'), 'm');
  await writeFile(join(dir, 'debug.log'), 'l');
  t.is((await hashContext(dir, ['.'])).files, 2); // main.py and .dockerignore
  t.true(ignoreMatcher(['a/**/b'])('a/x/y/b/c'));
  t.throws(() => ignoreMatcher(['!keep']), { message: /not supported/ });
});
