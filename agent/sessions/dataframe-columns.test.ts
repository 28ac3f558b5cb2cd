import test, { type ExecutionContext } from 'ava';
import { link, mkdir, mkdtemp, open, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { RunFileRefusedError } from '../runs/hostile-files.js';
import { join } from 'node:path';
import { DataframeUnreadableError, readDataframeColumns, type DataframeColumn } from './dataframe-columns.js';

// Written by test/fixtures/parquet/make.py with pyarrow 26.0.1: every expected dtype is pyarrow's
// own str(field.type) of read_table(path).schema, or the error pyarrow raised.
const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'parquet');
const expected = JSON.parse(await readFile(join(FIXTURES, 'expected.json'), 'utf8')) as {
  pyarrow: string;
  files: Record<string, DataframeColumn[] | { error: string }>;
};

for (const [name, columns] of Object.entries(expected.files)) {
  if (Array.isArray(columns)) {
    test(`${name}: the columns pyarrow ${expected.pyarrow} reads`, async (t) => {
      t.deepEqual(await readDataframeColumns(join(FIXTURES, name)), columns);
    });
  } else {
    test(`${name}: unreadable, as for pyarrow (${columns.error})`, async (t) => {
      const error = await t.throwsAsync(readDataframeColumns(join(FIXTURES, name)), { instanceOf: DataframeUnreadableError });
      t.is(error?.reason, 'footer-unreadable');
      t.regex(error?.message ?? '', /ARROW:schema metadata is not a readable Arrow schema/);
    });
  }
}

async function folder(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const root = await mkdtemp('/var/tmp/v6-dataframe-columns-');
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return root;
}

async function unreadable(t: ExecutionContext, file: string, reason: DataframeUnreadableError['reason'], message: RegExp) {
  const error = await t.throwsAsync(readDataframeColumns(file), { instanceOf: DataframeUnreadableError });
  t.is(error?.reason, reason);
  t.is(error?.code, 'V6_DATAFRAME_UNREADABLE');
  t.false(error?.retryable);
  t.regex(error?.message ?? '', message);
}

test('a file that is not parquet, an empty one and a missing one are unreadable, each saying why', async (t) => {
  const root = await folder(t);
  await writeFile(join(root, 'result.json'), '{"mean": 3.5}');
  await writeFile(join(root, 'empty.parquet'), '');
  await writeFile(join(root, 'tiny'), 'PA');
  await unreadable(t, join(root, 'result.json'), 'not-parquet', /result\.json is not a readable parquet file: it does not start with the parquet magic PAR1 \(it starts with "\{\\"me"\)/);
  await unreadable(t, join(root, 'empty.parquet'), 'empty', /the file is empty/);
  await unreadable(t, join(root, 'tiny'), 'not-parquet', /does not start with the parquet magic/);
  await unreadable(t, join(root, 'missing.parquet'), 'missing', /there is no such file/);
});

test('a link, a second name or a folder where the algorithm writes is refused, not followed, as for any run output', async (t) => {
  const root = await folder(t);
  await symlink(join(FIXTURES, 'pandas.parquet'), join(root, 'link.parquet'));
  await writeFile(join(root, 'own.parquet'), await readFile(join(FIXTURES, 'pandas.parquet')));
  await link(join(root, 'own.parquet'), join(root, 'second-name.parquet'));
  await mkdir(join(root, 'folder.parquet'));
  for (const [name, found] of [['link.parquet', /a symbolic link/], ['second-name.parquet', /a hard link \(2 names/], ['folder.parquet', /a directory/]] as const) {
    await t.throwsAsync(readDataframeColumns(join(root, name)), { instanceOf: RunFileRefusedError, message: found });
  }
});

test('a parquet file cut short is truncated, however much of it is left', async (t) => {
  const root = await folder(t);
  const whole = await readFile(join(FIXTURES, 'pandas.parquet'));
  for (const length of [4, 11, 12, whole.length / 2, whole.length - 1]) {
    const file = join(root, `cut-${length}.parquet`);
    await writeFile(file, whole.subarray(0, length));
    await unreadable(t, file, 'truncated', /starts as parquet but/);
  }
});

test('a footer length pointing outside the file, a footer that is not parquet metadata, and an encrypted footer are unreadable', async (t) => {
  const root = await folder(t);
  const whole = await readFile(join(FIXTURES, 'arrow.parquet'));
  const withTail = (length: number, magic = 'PAR1') => {
    const copy = Buffer.from(whole);
    copy.writeUInt32LE(length, copy.length - 8);
    copy.write(magic, copy.length - 4, 'latin1');
    return copy;
  };
  await writeFile(join(root, 'outside.parquet'), withTail(whole.length));
  await unreadable(t, join(root, 'outside.parquet'), 'footer-unreadable', new RegExp(`footer length \\(${whole.length} bytes\\) points outside the file \\(${whole.length} bytes\\)`));
  await writeFile(join(root, 'huge.parquet'), withTail(0xffffffff));
  await unreadable(t, join(root, 'huge.parquet'), 'footer-unreadable', /points outside the file/);
  // A length inside the file, but not where the footer starts: the bytes there are not thrift metadata.
  await writeFile(join(root, 'shifted.parquet'), withTail(whole.readUInt32LE(whole.length - 8) - 100));
  await unreadable(t, join(root, 'shifted.parquet'), 'footer-unreadable', /its footer is not parquet metadata|its parquet schema is not readable|ARROW:schema/);
  await writeFile(join(root, 'zeros.parquet'), Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64), withTail(64).subarray(-8)]));
  await unreadable(t, join(root, 'zeros.parquet'), 'footer-unreadable', /its footer is not parquet metadata/);
  await writeFile(join(root, 'encrypted.parquet'), withTail(100, 'PARE'));
  await unreadable(t, join(root, 'encrypted.parquet'), 'encrypted', /encrypted/);
});

test('only the footer is read: a 1 TiB sparse file with a real footer reads as that footer says', async (t) => {
  const root = await folder(t);
  const whole = await readFile(join(FIXTURES, 'nested.parquet'));
  const footerLength = whole.readUInt32LE(whole.length - 8);
  const file = join(root, 'sparse.parquet');
  await writeFile(file, 'PAR1');
  await truncate(file, 2 ** 40);
  const handle = await open(file, 'a');
  await handle.write(whole.subarray(whole.length - 8 - footerLength));
  await handle.close();
  t.deepEqual(await readDataframeColumns(file), expected.files['nested.parquet']);
});

test('a footer longer than the limit is refused before it is read', async (t) => {
  const error = await t.throwsAsync(readDataframeColumns(join(FIXTURES, 'pandas.parquet'), { maxFooterBytes: 1000 }), { instanceOf: DataframeUnreadableError });
  t.is(error?.reason, 'unsupported');
  t.regex(error?.message ?? '', /its footer is \d+ bytes, more than the 1000 this node reads/);
});
