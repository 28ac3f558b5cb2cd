/**
 * vantage6 4.14's cryptors, byte-compatible with `RSACryptor` (encrypted collaborations) and
 * `DummyCryptor` (unencrypted ones) in vantage6-common/vantage6/common/encryption.py.
 *
 * Three message forms:
 * - string (run input and result on the server): `b64(sealed key)$b64(iv)$b64(ciphertext)`;
 *   decryption runs upstream's two UI fallbacks (see `RsaCryptor.decryptStrToBytes`);
 * - blob (`skip_base64_encoding_of_msg`): `ASCII(b64(sealed key)$b64(iv)$)` + raw ciphertext;
 *   decryption undoes the UI's key wrapping but never touches the plaintext;
 * - stream: the blob layout produced and consumed chunk by chunk.
 */
import type { KeyObject } from 'node:crypto';
import type { Transform } from 'node:stream';
import { DecryptionError, ProtocolError } from './errors.js';
import {
  Base64DecodeTransform,
  Base64EncodeTransform,
  HeaderThenCipherTransform,
  Base64Quads,
  HeaderThenDecipherTransform,
} from './encryption-streams.js';
import { headerLength, openSharedKey, sealNewSharedKey, splitMessage, type SharedKeyHandling } from './hybrid.js';
import { loadPrivateKey, loadPublicKeyString } from './keys.js';
import { b64decode, b64encode, checkUtf8, decodeUtf8 } from './python-codecs.js';
import { isPythonJson, isPythonJsonBytes } from './python-json.js';

export interface DecryptStreamOptions {
  /**
   * `raw` (default) is upstream `decrypt_stream`: the RSA output is used as the AES key as is, so
   * a UI-wrapped key fails. `checked` applies `decrypt_bytes_blob_storage`'s key handling (UI
   * base64 unwrapped, 32 bytes required) in streaming form, for payloads the node would read
   * whole with `decryptBlob`.
   */
  keyHandling?: SharedKeyHandling;
}

/** A vantage6 cryptor. Every method throws a `ProtocolError` (or subclass) when vantage6 would raise. */
export interface Cryptor {
  /** Whether this cryptor actually encrypts (false for `DummyCryptor`). */
  readonly encrypted: boolean;
  /** `encrypt_bytes_to_str(data, public_key)`: the string form, for `recipientPublicKeyB64` (a `public_key_str`). */
  encryptBytesToStr(data: Uint8Array, recipientPublicKeyB64: string): string;
  /** `decrypt_str_to_bytes(message)` (also `decrypt(str)`). */
  decryptStrToBytes(message: string): Buffer;
  /** `encrypt_bytes_to_str(data, public_key, skip_base64_encoding_of_msg=True)`, as bytes. */
  encryptBlob(data: Uint8Array, recipientPublicKeyB64: string): Buffer;
  /** `decrypt_bytes_blob_storage(blob)` (also `decrypt(bytes)`). */
  decryptBlob(blob: Uint8Array): Buffer;
  /** `encrypt_stream`: the blob form, produced chunk by chunk. Key errors throw here, not on the stream. */
  encryptStream(recipientPublicKeyB64: string): Transform;
  /** `decrypt_stream`: decrypts the blob form chunk by chunk; errors are stream errors. */
  decryptStream(options?: DecryptStreamOptions): Transform;
  /**
   * `decrypt_str_to_bytes` of a string-form message fed as bytes, chunk by chunk, up to its
   * plaintext: for `RsaCryptor` before upstream's UI fallback (UTF-8 and JSON checks, which need
   * the whole plaintext; see `decryptStrToBytes`), for `DummyCryptor` the whole of it. Gives what
   * `decryptStrToBytes` gives for messages whose base64 parts are canonical; errors are stream errors.
   */
  decryptStrStream(): Transform;
}

/** `RSACryptor`: hybrid RSA/AES encryption with this organization's private key. */
export class RsaCryptor implements Cryptor {
  readonly encrypted = true;
  readonly #privateKey: KeyObject;

  constructor(privateKey: KeyObject) {
    this.#privateKey = privateKey;
  }

  /** A cryptor for a PEM private key (PKCS#1 or PKCS#8). */
  static fromPem(pem: string | Buffer): RsaCryptor {
    return new RsaCryptor(loadPrivateKey(pem));
  }

  get privateKey(): KeyObject {
    return this.#privateKey;
  }

  encryptBytesToStr(data: Uint8Array, recipientPublicKeyB64: string): string {
    const { cipher, header } = sealNewSharedKey(loadPublicKeyString(recipientPublicKeyB64));
    return header + b64encode(joinFinal(cipher.update(data), cipher.final()));
  }

  /**
   * Decrypts, then applies upstream's UI fallback to the plaintext: if it is UTF-8 but not
   * something Python's `json.loads` accepts, it is taken as the UI's base64 of the JSON and
   * base64-decoded (leniently; a decoding error is raised). Non-UTF-8 plaintext raises
   * `NotUtf8Error`: binary payloads must use the blob form.
   */
  decryptStrToBytes(message: string): Buffer {
    const [sealedKeyB64, ivB64, ciphertextB64] = splitMessage(message);
    const ciphertext = b64decode(ciphertextB64);
    const cipher = openSharedKey(this.#privateKey, sealedKeyB64, ivB64, 'checked');
    const plaintext = joinFinal(cipher.update(ciphertext), cipher.final());
    // The JSON test runs on the bytes: a large result is neither decoded to a string nor parsed.
    checkUtf8(plaintext, 'the decrypted message');
    if (isPythonJsonBytes(plaintext)) return plaintext;
    const text = decodeUtf8(plaintext, 'the decrypted message');
    return isPythonJson(text) ? plaintext : b64decode(text);
  }

  encryptBlob(data: Uint8Array, recipientPublicKeyB64: string): Buffer {
    const { cipher, header } = sealNewSharedKey(loadPublicKeyString(recipientPublicKeyB64));
    return Buffer.concat([Buffer.from(header, 'latin1'), cipher.update(data), cipher.final()]);
  }

  decryptBlob(blob: Uint8Array): Buffer {
    const end = headerLength(blob);
    if (end < 0) throw new DecryptionError('V6_PROTO_MESSAGE_MALFORMED', "header format is invalid: missing '$' separator");
    const cipher = this.#openHeader(Buffer.from(blob.subarray(0, end)), 'checked');
    return Buffer.concat([cipher.update(blob.subarray(end)), cipher.final()]);
  }

  encryptStream(recipientPublicKeyB64: string): Transform {
    const { cipher, header } = sealNewSharedKey(loadPublicKeyString(recipientPublicKeyB64));
    return new HeaderThenCipherTransform(Buffer.from(header, 'latin1'), cipher);
  }

  decryptStream(options: DecryptStreamOptions = {}): Transform {
    const handling = options.keyHandling ?? 'raw';
    return new HeaderThenDecipherTransform((header) => this.#openHeader(header, handling));
  }

  decryptStrStream(): Transform {
    return new HeaderThenDecipherTransform((header) => this.#openHeader(header, 'checked'), new Base64Quads());
  }

  #openHeader(header: Buffer, handling: SharedKeyHandling) {
    const [sealedKeyB64, ivB64] = splitMessage(decodeUtf8(header, 'the message header'));
    return openSharedKey(this.#privateKey, sealedKeyB64, ivB64, handling);
  }
}

/** `update` + `final` without copying `update` when `final` is empty (always, for CTR). */
function joinFinal(update: Buffer, final: Buffer): Buffer {
  return final.length === 0 ? update : Buffer.concat([update, final]);
}

/** `DummyCryptor` (unencrypted collaborations): base64 only; public keys are ignored. */
export class DummyCryptor implements Cryptor {
  readonly encrypted = false;

  encryptBytesToStr(data: Uint8Array): string {
    return b64encode(data);
  }

  decryptStrToBytes(message: string): Buffer {
    return b64decode(message);
  }

  /** Upstream ignores `skip_base64_encoding_of_msg` here: the blob is the base64 text. */
  encryptBlob(data: Uint8Array): Buffer {
    return Buffer.from(b64encode(data), 'latin1');
  }

  decryptBlob(blob: Uint8Array): Buffer {
    return b64decode(decodeUtf8(blob, 'the blob'));
  }

  encryptStream(): Transform {
    return new Base64EncodeTransform();
  }

  decryptStream(): Transform {
    return new Base64DecodeTransform();
  }

  decryptStrStream(): Transform {
    return new Base64DecodeTransform();
  }
}

/** The outcome of `decryptOrPassThrough`. */
export type PassThroughDecryption =
  | { decrypted: true; data: Buffer }
  | { decrypted: false; data: string; error: ProtocolError };

/**
 * What upstream's `ClientBase._decrypt_run_data` and the proxy's `decrypt_result` do: decrypt, or
 * on any decryption error hand back the message unchanged (the caller logs `error`). The proxy
 * needs this to pass results on as upstream does. The agent must NOT use it for run input: a run
 * whose input cannot be decrypted fails instead of receiving ciphertext.
 */
export function decryptOrPassThrough(cryptor: Cryptor, message: string): PassThroughDecryption {
  try {
    return { decrypted: true, data: cryptor.decryptStrToBytes(message) };
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return { decrypted: false, data: message, error };
  }
}
