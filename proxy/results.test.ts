import { readFileSync } from 'node:fs';
import test from 'ava';
import { DummyCryptor, RsaCryptor } from '../agent/protocol/encryption.js';
import { decryptResult, decryptResultPage } from './results.js';

const vectors = JSON.parse(readFileSync(new URL('../test/fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as {
  key_pairs: Array<{ private_key_pem: string; public_key_str: string }>;
};
const [mine, theirs] = vectors.key_pairs as [(typeof vectors.key_pairs)[0], (typeof vectors.key_pairs)[0]];
const cryptor = RsaCryptor.fromPem(mine.private_key_pem);
const json = Buffer.from('{"sum": 3}');

test('results are decrypted to base64; blob-stored, empty and undecryptable ones are passed on as stored', (t) => {
  const forUs = cryptor.encryptBytesToStr(json, mine.public_key_str);
  const forOthers = cryptor.encryptBytesToStr(json, theirs.public_key_str);
  const page = {
    data: [
      { id: 1, result: forUs, blob_storage_used: false },
      { id: 2, result: forOthers, blob_storage_used: false },
      { id: 3, result: '6f0c2b1e-uuid', blob_storage_used: true },
      { id: 4, result: null, blob_storage_used: false },
    ],
    links: { self: '/api/result?task_id=1' },
  };
  const { body, undecrypted } = decryptResultPage(page, cryptor);
  t.deepEqual(body, { ...page, data: [{ ...page.data[0], result: json.toString('base64') }, page.data[1], page.data[2], page.data[3]] });
  t.deepEqual(undecrypted, [{ id: 2, code: 'V6_PROTO_KEY_DECRYPT_FAILED' }]);
});

test('unencrypted collaborations: the base64 result comes back as it was', (t) => {
  const item = { id: 5, result: json.toString('base64'), blob_storage_used: false };
  t.deepEqual(decryptResult(item, new DummyCryptor()), { body: item, undecrypted: [] });
  const broken = { id: 6, result: 'abcde', blob_storage_used: false };
  t.deepEqual(decryptResult(broken, new DummyCryptor()), { body: broken, undecrypted: [{ id: 6, code: 'V6_PROTO_BASE64_INVALID' }] });
});
