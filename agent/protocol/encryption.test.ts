import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { constants, createDecipheriv, createPrivateKey, privateDecrypt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { DummyCryptor, RsaCryptor, decryptOrPassThrough } from './encryption.js';
import { DecryptionError, KeyError, ProtocolError } from './errors.js';
import { aesCtr } from './hybrid.js';
import { generateRsaKeyPair, loadPrivateKey, publicKeyPem, publicKeyString, verifyPublicKey } from './keys.js';

interface Outcome {
  ok: boolean;
  result_b64?: string;
}
interface KeyPair {
  id: string;
  private_key_pem: string;
  public_key_pem: string;
  public_key_str: string;
  'verify_public_key(public_key_str)': boolean;
  [other: string]: unknown;
}
interface Message {
  id: string;
  encrypted_for: string;
  message: string;
  decrypt_str_to_bytes: Outcome;
  client_decrypt_run_data?: 'decrypted_bytes' | 'input_returned_unchanged';
  'decrypt_str_to_bytes_with_key1_(wrong_key)'?: Outcome;
}
interface Blob {
  id: string;
  blob_b64: string;
  chunk_lengths?: number[];
  decrypt_bytes_blob_storage: Outcome;
  decrypt_stream: Outcome;
}
interface DummyCase {
  id: string;
  plaintext_b64: string;
  encrypt_bytes_to_str: string;
  encrypt_bytes_to_str_skip_base64_encoding_of_msg: string;
  decrypt_str: Outcome;
  decrypt_bytes: Outcome;
  encrypt_stream_chunk_size_4_chunks: string[];
  decrypt_stream_chunk_size_5: Outcome;
}
interface CtrCase {
  id: string;
  key_hex: string;
  iv_hex: string;
  plaintext_hex: string;
  ciphertext_hex: string;
}
interface CryptoVectors {
  key_pairs: KeyPair[];
  rsa_cryptor_messages: Message[];
  malformed_messages: (Omit<Message, 'encrypted_for'> & { decryptor: string })[];
  ui_style_messages: Message[];
  blob_messages: Blob[];
  stream_messages: Blob[];
  dummy_cryptor: { cases: DummyCase[]; decrypt_edge_cases: { id: string; input: string; decrypt_str: Outcome }[] };
  aes_256_ctr: CtrCase[];
}

const vectors = JSON.parse(readFileSync(new URL('../../test/fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as CryptoVectors;
const keyPairs = new Map(vectors.key_pairs.map((k) => [k.id, k]));
const cryptors = new Map(vectors.key_pairs.map((k) => [k.id, RsaCryptor.fromPem(k.private_key_pem)]));
const key1 = keyPairs.get('key1') as KeyPair;
const dummy = new DummyCryptor();

function cryptorFor(id: string): RsaCryptor {
  const cryptor = cryptors.get(id);
  if (cryptor === undefined) throw new Error(`no key pair ${id} in crypto.json`);
  return cryptor;
}

/** Success with the bytes, or failure: vectors compare on that, never on error text. */
function outcome(run: () => Buffer): Outcome {
  try {
    return { ok: true, result_b64: run().toString('base64') };
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return { ok: false };
  }
}

async function streamOutcome(transform: Transform, chunks: Buffer[]): Promise<Outcome> {
  try {
    const [, out] = await Promise.all([pipeline(Readable.from(chunks), transform), buffer(transform)]);
    return { ok: true, result_b64: out.toString('base64') };
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return { ok: false };
  }
}

function expected(o: Outcome): Outcome {
  return o.ok ? { ok: true, result_b64: o.result_b64 ?? '' } : { ok: false };
}

/** Split `data` into pieces of the given lengths (the chunking upstream produced). */
function chunked(data: Buffer, lengths: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const length of lengths) {
    chunks.push(data.subarray(offset, offset + length));
    offset += length;
  }
  return chunks;
}

function everyN(data: Buffer, n: number): Buffer[] {
  return chunked(data, Array.from({ length: Math.ceil(data.length / n) }, () => n));
}

for (const pair of vectors.key_pairs) {
  test(`key pair ${pair.id}: public_key_str and verify_public_key as vantage6`, (t) => {
    const key = loadPrivateKey(pair.private_key_pem);
    const pkcs8 = loadPrivateKey(key.export({ type: 'pkcs8', format: 'pem' }));
    const actual: Record<string, unknown> = {
      pem: publicKeyPem(key),
      str: publicKeyString(key),
      strFromPkcs8: publicKeyString(pkcs8),
      verifyOwn: verifyPublicKey(key, pair.public_key_str),
    };
    const want: Record<string, unknown> = {
      pem: pair.public_key_pem,
      str: pair.public_key_str,
      strFromPkcs8: pair.public_key_str,
      verifyOwn: pair['verify_public_key(public_key_str)'],
    };
    for (const other of vectors.key_pairs) {
      const recorded = pair[`verify_public_key(${other.id}.public_key_str)`];
      if (recorded === undefined) continue;
      actual[other.id] = verifyPublicKey(key, other.public_key_str);
      want[other.id] = recorded;
    }
    t.deepEqual(actual, want, pair.id);
  });
}

for (const m of vectors.rsa_cryptor_messages) {
  test(`rsa_cryptor_messages ${m.id}: decrypt_str_to_bytes and the pass-through wrapper`, (t) => {
    const cryptor = cryptorFor(m.encrypted_for);
    const passThrough = decryptOrPassThrough(cryptor, m.message);
    const actual: Record<string, unknown> = {
      decrypt: outcome(() => cryptor.decryptStrToBytes(m.message)),
      passThrough: passThrough.decrypted ? 'decrypted_bytes' : passThrough.data === m.message && 'input_returned_unchanged',
    };
    const want: Record<string, unknown> = { decrypt: expected(m.decrypt_str_to_bytes), passThrough: m.client_decrypt_run_data };
    const wrongKey = m['decrypt_str_to_bytes_with_key1_(wrong_key)'];
    if (wrongKey !== undefined) {
      actual.wrongKey = outcome(() => cryptorFor('key1').decryptStrToBytes(m.message));
      want.wrongKey = expected(wrongKey);
    }
    t.deepEqual(actual, want, m.id);
  });
}

for (const m of [...vectors.malformed_messages.map((v) => ({ ...v, encrypted_for: v.decryptor })), ...vectors.ui_style_messages]) {
  test(`malformed/ui_style ${m.id}: decrypt_str_to_bytes`, (t) => {
    t.deepEqual(outcome(() => cryptorFor(m.encrypted_for).decryptStrToBytes(m.message)), expected(m.decrypt_str_to_bytes), m.id);
  });
}

for (const b of [...vectors.blob_messages, ...vectors.stream_messages]) {
  test(`blob/stream ${b.id}: decrypt_bytes_blob_storage, decrypt_stream and the checked stream`, async (t) => {
    const cryptor = cryptorFor('key1');
    const blob = Buffer.from(b.blob_b64, 'base64');
    const chunks = b.chunk_lengths === undefined ? everyN(blob, 7) : chunked(blob, b.chunk_lengths);
    t.deepEqual(
      {
        blob: outcome(() => cryptor.decryptBlob(blob)),
        stream: await streamOutcome(cryptor.decryptStream(), chunks),
        checkedStream: await streamOutcome(cryptor.decryptStream({ keyHandling: 'checked' }), chunks),
      },
      {
        blob: expected(b.decrypt_bytes_blob_storage),
        stream: expected(b.decrypt_stream),
        checkedStream: expected(b.decrypt_bytes_blob_storage),
      },
      b.id,
    );
  });
}

for (const c of vectors.dummy_cryptor.cases) {
  test(`dummy_cryptor ${c.id}: every DummyCryptor method`, async (t) => {
    const plaintext = Buffer.from(c.plaintext_b64, 'base64');
    const encoded = Buffer.from(c.encrypt_bytes_to_str, 'latin1');
    t.deepEqual(
      {
        str: dummy.encryptBytesToStr(plaintext),
        blob: dummy.encryptBlob(plaintext).toString('latin1'),
        decryptStr: outcome(() => dummy.decryptStrToBytes(c.encrypt_bytes_to_str)),
        decryptBlob: outcome(() => dummy.decryptBlob(encoded)),
        encryptStream: (await buffer(Readable.from(everyN(plaintext, 4)).pipe(dummy.encryptStream()))).toString('latin1'),
        decryptStream: await streamOutcome(dummy.decryptStream(), everyN(encoded, 5)),
      },
      {
        str: c.encrypt_bytes_to_str,
        blob: c.encrypt_bytes_to_str_skip_base64_encoding_of_msg,
        decryptStr: expected(c.decrypt_str),
        decryptBlob: expected(c.decrypt_bytes),
        encryptStream: c.encrypt_stream_chunk_size_4_chunks.join(''),
        decryptStream: expected(c.decrypt_stream_chunk_size_5),
      },
      c.id,
    );
  });
}

for (const c of vectors.dummy_cryptor.decrypt_edge_cases) {
  test(`dummy_cryptor decrypt_edge_cases ${c.id}`, (t) => {
    t.deepEqual(outcome(() => dummy.decryptStrToBytes(c.input)), expected(c.decrypt_str), c.id);
  });
}

for (const c of vectors.aes_256_ctr) {
  test(`aes_256_ctr ${c.id}`, (t) => {
    const cipher = aesCtr(Buffer.from(c.key_hex, 'hex'), Buffer.from(c.iv_hex, 'hex'));
    const ciphertext = Buffer.concat([cipher.update(Buffer.from(c.plaintext_hex, 'hex')), cipher.final()]);
    t.is(ciphertext.toString('hex'), c.ciphertext_hex, c.id);
  });
}

// ---------------------------------------------------------------------------------------------
// What we encrypt must decrypt with the upstream algorithm (README: RSA PKCS#1 v1.5 private
// decryption of the shared key, AES-256-CTR with the IV as initial counter), implemented here
// with node:crypto directly, and with the OpenSSL CLI as an independent reference.

const samples: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['json', Buffer.from('{"method": "partial", "kwargs": {"column": "age"}}')],
  ['binary', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
  ['odd length', Buffer.alloc(1000 * 1000 + 7, 0xa5)],
];

interface Produced {
  header: string;
  ciphertext: Buffer;
}

async function produced(form: 'string' | 'blob' | 'stream', data: Buffer): Promise<Produced> {
  const cryptor = cryptorFor('key1');
  if (form === 'string') {
    const [sealed, iv, ciphertext] = cryptor.encryptBytesToStr(data, key1.public_key_str).split('$') as [string, string, string];
    return { header: `${sealed}$${iv}$`, ciphertext: Buffer.from(ciphertext, 'base64') };
  }
  const blob = form === 'blob' ? cryptor.encryptBlob(data, key1.public_key_str) : await buffer(Readable.from(everyN(data, 65536)).pipe(cryptor.encryptStream(key1.public_key_str)));
  const end = blob.indexOf('$', blob.indexOf('$') + 1) + 1;
  return { header: blob.subarray(0, end).toString('latin1'), ciphertext: blob.subarray(end) };
}

function referenceDecrypt({ header, ciphertext }: Produced): Buffer {
  const [sealed, iv] = header.split('$') as [string, string];
  const key = privateDecrypt({ key: createPrivateKey(key1.private_key_pem), padding: constants.RSA_PKCS1_PADDING }, Buffer.from(sealed, 'base64'));
  const decipher = createDecipheriv('aes-256-ctr', key, Buffer.from(iv, 'base64'));
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

for (const form of ['string', 'blob', 'stream'] as const) {
  for (const [name, data] of samples) {
    test(`${form} form, ${name}: the upstream algorithm and our decryptor read what we encrypt`, async (t) => {
      const message = await produced(form, data);
      const cryptor = cryptorFor('key1');
      const whole = Buffer.concat([Buffer.from(message.header, 'latin1'), message.ciphertext]);
      const ours =
        form === 'string' ? cryptor.decryptBlob(whole) : await buffer(Readable.from(everyN(whole, 4096)).pipe(cryptor.decryptStream()));
      t.true(referenceDecrypt(message).equals(data) && ours.equals(data), name);
    });
  }
}

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
(hasOpenssl ? test : test.skip)('the OpenSSL CLI decrypts every form we produce', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'v6-protocol-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'key1.pem');
  writeFileSync(keyFile, key1.private_key_pem, { mode: 0o600 });
  const data = Buffer.from('{"method": "partial", "kwargs": {"naïve": "✓"}}');
  const results: Record<string, boolean> = {};
  for (const form of ['string', 'blob', 'stream'] as const) {
    const { header, ciphertext } = await produced(form, data);
    const [sealed, iv] = header.split('$') as [string, string];
    const sharedKey = execFileSync('openssl', ['pkeyutl', '-decrypt', '-inkey', keyFile, '-pkeyopt', 'rsa_padding_mode:pkcs1'], {
      input: Buffer.from(sealed, 'base64'),
    });
    const plaintext = execFileSync('openssl', ['enc', '-d', '-aes-256-ctr', '-K', sharedKey.toString('hex'), '-iv', Buffer.from(iv, 'base64').toString('hex')], {
      input: ciphertext,
    });
    results[form] = plaintext.equals(data);
  }
  t.deepEqual(results, { string: true, blob: true, stream: true });
});

// ---------------------------------------------------------------------------------------------
// Keys and errors

test('a generated key pair is 4096-bit PKCS#1 and round-trips', async (t) => {
  const { privateKeyPem, publicKeyString: pub } = await generateRsaKeyPair();
  const cryptor = RsaCryptor.fromPem(privateKeyPem);
  const key = loadPrivateKey(privateKeyPem);
  t.deepEqual(
    {
      pkcs1: privateKeyPem.startsWith('-----BEGIN RSA PRIVATE KEY-----\n'),
      bits: key.asymmetricKeyDetails?.modulusLength,
      exponent: key.asymmetricKeyDetails?.publicExponent,
      verifies: verifyPublicKey(key, pub),
      roundTrip: cryptor.decryptStrToBytes(cryptor.encryptBytesToStr(Buffer.from('[1, 2]'), pub)).toString(),
    },
    { pkcs1: true, bits: 4096, exponent: 65537n, verifies: true, roundTrip: '[1, 2]' },
  );
});

test('keys that vantage6 refuses raise KeyError with a stable code', (t) => {
  const cryptor = cryptorFor('key1');
  const privateAsPublic = Buffer.from(key1.private_key_pem).toString('base64');
  t.is(t.throws(() => cryptor.encryptBytesToStr(Buffer.alloc(1), privateAsPublic), { instanceOf: KeyError })?.code, 'V6_PROTO_PUBLIC_KEY_INVALID');
  t.is(t.throws(() => cryptor.encryptStream('bm90IGEga2V5'), { instanceOf: KeyError })?.code, 'V6_PROTO_PUBLIC_KEY_INVALID');
  t.is(t.throws(() => RsaCryptor.fromPem('not a key'), { instanceOf: KeyError })?.code, 'V6_PROTO_PRIVATE_KEY_INVALID');
  t.false(verifyPublicKey(cryptor.privateKey, 'abc'));
});

test('a stream that ends inside the header, or never has one, is a malformed message', async (t) => {
  const cryptor = cryptorFor('key1');
  const short = await streamOutcome(cryptor.decryptStream(), [Buffer.from('abc$def')]);
  const codes = await Promise.all(
    [Buffer.from('abc$def'), Buffer.alloc(70 * 1024, 0x41)].map((input) =>
      pipeline(Readable.from([input]), cryptor.decryptStream()).then(
        () => 'resolved',
        (error: unknown) => (error instanceof DecryptionError ? error.code : 'other'),
      ),
    ),
  );
  t.deepEqual({ short, codes }, { short: { ok: false }, codes: ['V6_PROTO_MESSAGE_MALFORMED', 'V6_PROTO_MESSAGE_MALFORMED'] });
});
