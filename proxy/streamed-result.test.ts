import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import test from 'ava';
import { DummyCryptor, RsaCryptor, type Cryptor } from '../agent/protocol/encryption.js';
import { writeJsonAnswer, writeStreamedAnswer } from './json-answer.js';
import { decryptResultLazy } from './results.js';
import { decryptSpooled, ResultScanner, spool } from './streamed-result.js';

interface Message {
  id: string;
  message: string;
  encrypted_for?: string;
  decryptor?: string;
}
const vectors = JSON.parse(readFileSync(new URL('../test/fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as {
  key_pairs: Array<{ id: string; private_key_pem: string; public_key_str: string }>;
  rsa_cryptor_messages: Message[];
  malformed_messages: Message[];
  ui_style_messages: Message[];
  dummy_cryptor: { cases: Array<{ id: string; encrypt_bytes_to_str: string }> };
};
const key1 = RsaCryptor.fromPem(vectors.key_pairs[0]!.private_key_pem);

/** The bytes a handler writes to `res`. */
async function written(write: (res: ServerResponse) => Promise<void>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let declared = -1;
  const res = {
    destroyed: false,
    writeHead(_status: number, headers: Record<string, unknown>) {
      declared = Number(headers['content-length']);
    },
    write(chunk: Buffer | string, encoding?: BufferEncoding) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : chunk);
      return true;
    },
    end() {},
  } as unknown as ServerResponse;
  await write(res);
  const body = Buffer.concat(chunks);
  if (declared !== body.length) throw new Error(`content-length ${declared}, body ${body.length}`);
  return body;
}

/** The answer as the whole-body path gives it (results.ts, json-answer.ts). */
function whole(body: Buffer, cryptor: Cryptor): Promise<Buffer> {
  const { body: decrypted } = decryptResultLazy(JSON.parse(body.toString('utf8')) as Record<string, unknown>, cryptor);
  return written((res) => writeJsonAnswer(res, 200, {}, decrypted));
}

/** The answer as the streamed path gives it, and whether it streamed. */
async function streamed(body: Buffer, cryptor: Cryptor, chunk = 7): Promise<{ bytes: Buffer; streamed: boolean; codes: string[] }> {
  const chunks = [];
  for (let i = 0; i < body.length; i += chunk) chunks.push(body.subarray(i, i + chunk));
  const spooled = await spool(Readable.from(chunks), cryptor);
  try {
    const result = await decryptSpooled(spooled, cryptor.encrypted);
    if (result === undefined) return { bytes: await whole(await spooled.whole(), cryptor), streamed: false, codes: [] };
    return { bytes: await written((res) => writeStreamedAnswer(res, 200, {}, result)), streamed: true, codes: result.undecrypted.map((u) => u.code) };
  } finally {
    await spooled.close();
  }
}

/** A run as the server sends it (Flask's json: ", " and ": "), the result among other fields. */
function run(result: string | null, extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ id: 12, status: 'completed', result, log: 'done\nok', task: { id: 3, link: '/api/task/3' }, ...extra }).replaceAll('","', '", "').replaceAll('":', '": '));
}

test('every string-form vector answers byte for byte as the whole-body path does, through the streamed path where it is canonical', async (t) => {
  let streamedCount = 0;
  for (const vector of [...vectors.rsa_cryptor_messages, ...vectors.malformed_messages, ...vectors.ui_style_messages]) {
    const body = run(vector.message);
    const expected = await whole(body, key1);
    for (const chunk of [1, 7, 4096]) {
      const answer = await streamed(body, key1, chunk);
      t.is(answer.bytes.toString(), expected.toString(), `${vector.id} in chunks of ${chunk}`);
      if (answer.streamed) streamedCount++;
    }
  }
  t.true(streamedCount >= 3 * 8, `the canonical vectors stream (${streamedCount / 3})`);
});

test('the vectors that must stream do: JSON results, and results for another key passed on as stored', async (t) => {
  const ids = new Set(['json_short', 'json_unicode', 'json_100kb', 'json_scalar_number', 'python_json_nan', 'json_with_surrounding_whitespace', 'json_short_for_key2', 'binary_non_utf8']);
  for (const vector of vectors.rsa_cryptor_messages.filter((v) => ids.has(v.id))) {
    const answer = await streamed(run(vector.message), key1);
    t.true(answer.streamed, vector.id);
  }
  const forKey2 = vectors.rsa_cryptor_messages.find((v) => v.id === 'json_short_for_key2')!;
  t.deepEqual((await streamed(run(forKey2.message), key1)).codes, ['V6_PROTO_KEY_DECRYPT_FAILED']);
  const binary = vectors.rsa_cryptor_messages.find((v) => v.id === 'binary_non_utf8')!;
  t.deepEqual((await streamed(run(binary.message), key1)).codes, ['V6_PROTO_PLAINTEXT_NOT_UTF8']);
});

test('unencrypted collaborations (DummyCryptor vectors) answer as the whole-body path does', async (t) => {
  for (const c of vectors.dummy_cryptor.cases) {
    const body = run(c.encrypt_bytes_to_str);
    t.is((await streamed(body, new DummyCryptor())).bytes.toString(), (await whole(body, new DummyCryptor())).toString(), c.id);
  }
  const broken = run('abcde');
  t.is((await streamed(broken, new DummyCryptor())).bytes.toString(), (await whole(broken, new DummyCryptor())).toString());
});

test('answers of other shapes take the whole-body path and answer as before', async (t) => {
  const message = vectors.rsa_cryptor_messages.find((v) => v.id === 'json_short')!.message;
  const shapes = [
    run(null),
    run(message, { blob_storage_used: true }),
    Buffer.from(`{"result": "${message.replaceAll('/', '\\/')}", "id": 1}`), // an escape in the value
    Buffer.from(`{"id": 1, "res\\u0075lt": "${message}"}`), // an escape in a key
    Buffer.from(`{"result": "${message}", "result": "${message}"}`), // twice: JSON.parse takes the last
    Buffer.from(`{"nested": {"result": "x"}, "result": "${message.slice(0, -2)}"}`), // non-canonical tail
  ];
  for (const body of shapes) {
    const answer = await streamed(body, key1);
    t.false(answer.streamed, body.toString().slice(0, 60));
    t.is(answer.bytes.toString(), (await whole(body, key1)).toString());
  }
  // A result key only inside a nested object is not the run's result.
  const scanner = new ResultScanner();
  scanner.update(Buffer.from('{"task": {"result": "abcd"}, "id": 1}'));
  t.is(scanner.span(), undefined);
});

test('a large JSON result streams, and decrypts to its plaintext', async (t) => {
  const rows = Array.from({ length: 20_000 }, (_, i) => ({ id: i, value: i * 1.5, name: `row ${i}` }));
  const plaintext = Buffer.from(JSON.stringify(rows));
  const body = run(key1.encryptBytesToStr(plaintext, vectors.key_pairs[0]!.public_key_str));
  const answer = await streamed(body, key1, 65536);
  t.true(answer.streamed);
  t.true(Buffer.from((JSON.parse(answer.bytes.toString()) as { result: string }).result, 'base64').equals(plaintext));
  t.is(answer.bytes.toString(), (await whole(body, key1)).toString());
});

test('the plaintext checks agree with isUtf8 and isPythonJsonBytes however the plaintext is cut', async (t) => {
  const { isUtf8 } = await import('node:buffer');
  const { isPythonJsonBytes } = await import('../agent/protocol/python-json.js');
  const { PlaintextChecks } = await import('./streamed-result.js');
  const samples = [
    Buffer.from('{"name": "Zoë Ångström €𝄞"}'),
    Buffer.from('"€"'),
    Buffer.from([0x22, 0xe2, 0x82, 0x22]), // a cut sequence inside a string
    Buffer.from([0x22, 0xc3, 0x22]),
    Buffer.from([0x22, 0xf0, 0x9d, 0x84, 0x9e, 0x22]),
    Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), // a UTF-8 encoded surrogate
    Buffer.from([0x22, 0xe2, 0x82]), // ends inside a sequence
    Buffer.from('not json'),
  ];
  for (const sample of samples) {
    const expected = !isUtf8(sample) ? 'not-utf8' : isPythonJsonBytes(sample) ? 'ok' : 'not-json';
    for (const size of [1, 2, 3, 5]) {
      const checks = new PlaintextChecks(true);
      for (let i = 0; i < sample.length; i += size) checks.update(sample.subarray(i, i + size));
      t.is(checks.end(), expected, `${sample.toString('hex')} in chunks of ${size}`);
    }
  }
});
