import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { decodeArrowSchema } from './arrow-ipc-schema.js';
import { typeString } from './arrow-type.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'parquet');

async function storedSchema(name: string): Promise<Buffer> {
  const file = await readFile(join(FIXTURES, name));
  const value = parquetMetadata(new Uint8Array(file)).key_value_metadata?.find((pair) => pair.key === 'ARROW:schema')?.value;
  if (value === undefined) throw new Error(`${name} has no ARROW:schema`);
  return Buffer.from(value, 'base64');
}

test('decodes the schema pyarrow stored, before parquet has its say', async (t) => {
  const fields = decodeArrowSchema((await storedSchema('nested.parquet')).toString('base64'));
  const strings = Object.fromEntries(fields.map((f) => [f.name, typeString(f.type)]));
  // As written: pyarrow's own item names and a map's entries field, which parquet renames.
  t.is(strings.ints, 'list<item: int64>');
  t.is(strings.strict_items, 'list<item: int32 not null>');
  t.is(strings.sorted_tags, 'map<string, large_string, keys_sorted>');
  t.is(strings.pair, 'fixed_size_list<item: double>[2]');
  t.is(strings.cats, 'list<item: dictionary<values=string, indices=int8, ordered=0>>');
});

test('an IPC message without the continuation marker (before Arrow 0.15) decodes the same', async (t) => {
  const bytes = await storedSchema('pandas.parquet');
  t.is(bytes.readUInt32LE(0), 0xffffffff);
  const legacy = bytes.subarray(4);
  t.deepEqual(decodeArrowSchema(legacy.toString('base64')), decodeArrowSchema(bytes.toString('base64')));
});

test('every one-byte damage of a stored schema decodes or is an Error that says what is wrong, never a read past the buffer', async (t) => {
  const bytes = await storedSchema('arrow.parquet');
  let refused = 0;
  for (let i = 0; i < bytes.length; i += 1) {
    for (const value of [0x00, 0xff, 0x80, bytes[i]! ^ 0x01]) {
      const copy = Buffer.from(bytes);
      copy[i] = value;
      try {
        decodeArrowSchema(copy.toString('base64'));
      } catch (error) {
        refused += 1;
        if (error instanceof RangeError || error instanceof TypeError || !(error instanceof Error)) {
          t.fail(`byte ${i} = ${value}: ${String(error)}`);
          return;
        }
      }
    }
  }
  t.true(refused > 0);
});

test('values that are not an IPC schema message are refused', (t) => {
  t.throws(() => decodeArrowSchema('not base64!'), { message: 'it is not base64' });
  t.throws(() => decodeArrowSchema('AAA='), { message: /too short/ });
  t.throws(() => decodeArrowSchema(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).toString('base64')), { message: /empty/ });
  t.throws(() => decodeArrowSchema(Buffer.from([0xff, 0xff, 0xff, 0xff, 64, 0, 0, 0, 1, 2]).toString('base64')), { message: /runs past/ });
});
