import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diskUsage } from './disk-usage.js';
import { MAX_ENTRIES, overQuota } from './volume-quota.js';

async function folder(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const root = await mkdtemp('/var/tmp/v6-disk-usage-');
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return root;
}

test('counts allocated blocks below a folder, without following links', async (t) => {
  const root = await folder(t);
  const outside = await folder(t);
  await writeFile(join(outside, 'big'), Buffer.alloc(4 * 1024 * 1024, 1));
  await mkdir(join(root, 'sub'));
  await writeFile(join(root, 'sub', 'data'), Buffer.alloc(1024 * 1024, 1));
  await symlink(outside, join(root, 'link'));
  execFileSync('truncate', ['-s', '1T', join(root, 'sparse')]);
  const usage = await diskUsage(root, 100);
  t.false(usage.truncated);
  t.is(usage.entries, 5);
  t.true(usage.bytes >= 1024 * 1024 && usage.bytes < 2 * 1024 * 1024, `${usage.bytes}: the 1 MiB file, not the link's target nor the sparse file's size`);
});

test('an absent folder uses nothing; more entries than the bound is a finding', async (t) => {
  t.deepEqual(await diskUsage('/var/tmp/v6-no-such-folder', 10), { bytes: 0, entries: 0, truncated: false });
  const root = await folder(t);
  for (let i = 0; i < 20; i += 1) await writeFile(join(root, `f${i}`), '');
  t.true((await diskUsage(root, 10)).truncated);
});

test('overQuota names the key and the limit, or the file count', (t) => {
  t.is(overQuota({ bytes: 10, entries: 1, truncated: false }, 10), undefined);
  t.regex(overQuota({ bytes: 11, entries: 1, truncated: false }, 10) ?? '', /wrote 11 bytes .* kubernetes\.run\.max_volume_bytes = 10/);
  t.regex(overQuota({ bytes: 0, entries: MAX_ENTRIES + 1, truncated: true }, 10) ?? '', /more than 100000 files and folders/);
});
