/**
 * The building blocks of vantage6's hybrid encryption (identical in 4.13, 4.14 and 5.0):
 * a random 32-byte AES key and 16-byte IV per message, AES-CTR with the IV as the full 128-bit
 * initial counter, and the AES key sealed with RSA PKCS#1 v1.5 for the recipient. A message starts
 * with the header `b64(sealed key) "$" b64(iv) "$"`, followed by the ciphertext (base64 in the
 * string form, raw in the blob and stream forms).
 */
import { constants, createCipheriv, privateDecrypt, publicEncrypt, randomBytes, type Cipheriv, type KeyObject } from 'node:crypto';
import { DecryptionError } from './errors.js';
import { b64decode, b64encode, isStrictUtf8 } from './python-codecs.js';

export const SEPARATOR = '$';
export const SHARED_KEY_LENGTH = 32;
export const IV_LENGTH = 16;

const SEPARATOR_BYTE = SEPARATOR.charCodeAt(0);

/** A fresh shared key and IV, and the header that carries them to `recipient`. */
export function sealNewSharedKey(recipient: KeyObject): { cipher: Cipheriv; header: string } {
  const sharedKey = randomBytes(SHARED_KEY_LENGTH);
  const iv = randomBytes(IV_LENGTH);
  const sealed = publicEncrypt({ key: recipient, padding: constants.RSA_PKCS1_PADDING }, sharedKey);
  return { cipher: aesCtr(sharedKey, iv), header: `${b64encode(sealed)}${SEPARATOR}${b64encode(iv)}${SEPARATOR}` };
}

/**
 * AES-CTR over `key` (128, 192 or 256 bits, as the `cryptography` package accepts) from the
 * 16-byte initial counter block `iv`. CTR is symmetric: the same cipher encrypts and decrypts.
 */
export function aesCtr(key: Uint8Array, iv: Uint8Array): Cipheriv {
  if (![16, 24, 32].includes(key.length)) {
    throw new DecryptionError('V6_PROTO_KEY_DECRYPT_FAILED', `invalid key size (${key.length * 8}) for AES`);
  }
  if (iv.length !== IV_LENGTH) {
    throw new DecryptionError('V6_PROTO_MESSAGE_MALFORMED', `invalid IV size (${iv.length * 8}) for AES-CTR`);
  }
  return createCipheriv(`aes-${key.length * 8}-ctr`, key, iv);
}

/** Python's `text.split("$", 2)`, which must give three parts; the third keeps any further '$'. */
export function splitMessage(text: string): [sealedKeyB64: string, ivB64: string, rest: string] {
  const first = text.indexOf(SEPARATOR);
  const second = first < 0 ? -1 : text.indexOf(SEPARATOR, first + 1);
  if (second < 0) {
    throw new DecryptionError('V6_PROTO_MESSAGE_MALFORMED', "header format is invalid: expected three parts separated by '$'");
  }
  return [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
}

/** The length of the blob header (up to and including the second '$'), or -1 if `data` holds no complete header. */
export function headerLength(data: Uint8Array): number {
  const first = data.indexOf(SEPARATOR_BYTE);
  const second = first < 0 ? -1 : data.indexOf(SEPARATOR_BYTE, first + 1);
  return second < 0 ? -1 : second + 1;
}

/**
 * How the RSA-decrypted shared key is taken:
 * - `checked` (`_decode_shared_key`, used for string and blob messages): if the RSA output is
 *   UTF-8 it is the UI's base64 text of the key and is base64-decoded; the key must be 32 bytes.
 * - `raw` (`decrypt_stream`): the RSA output is the AES key as is.
 */
export type SharedKeyHandling = 'checked' | 'raw';

/** Recover the AES cipher of a message from the two header fields. */
export function openSharedKey(privateKey: KeyObject, sealedKeyB64: string, ivB64: string, handling: SharedKeyHandling): Cipheriv {
  const sealed = b64decode(sealedKeyB64);
  const iv = b64decode(ivB64);
  let sharedKey: Buffer;
  try {
    sharedKey = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, sealed);
  } catch (error) {
    throw new DecryptionError('V6_PROTO_KEY_DECRYPT_FAILED', 'cannot decrypt the shared key with this private key', error);
  }
  if (handling === 'checked') {
    if (isStrictUtf8(sharedKey)) sharedKey = b64decode(sharedKey);
    if (sharedKey.length !== SHARED_KEY_LENGTH) {
      throw new DecryptionError(
        'V6_PROTO_KEY_DECRYPT_FAILED',
        `decrypted AES key length is ${sharedKey.length} bytes, expected ${SHARED_KEY_LENGTH}`,
      );
    }
  }
  return aesCtr(sharedKey, iv);
}
