/**
 * Organization RSA keys as vantage6 handles them (`RSACryptor` in
 * vantage6-common/vantage6/common/encryption.py): the node's private key is a PEM file (PKCS#1
 * `BEGIN RSA PRIVATE KEY` as vantage6 writes it, or PKCS#8), and an organization's public key
 * travels as standard base64 of its SubjectPublicKeyInfo PEM text (`public_key_str`).
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { KeyError } from './errors.js';
import { b64decode, b64encode } from './python-codecs.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** What vantage6's `create_new_rsa_key` produces. */
export const RSA_KEY_BITS = 4096;
export const RSA_PUBLIC_EXPONENT = 65537;

/** Load an unencrypted PEM RSA private key (PKCS#1 or PKCS#8). */
export function loadPrivateKey(pem: string | Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new KeyError('V6_PROTO_PRIVATE_KEY_INVALID', 'cannot load the private key: not an unencrypted PEM private key', error);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new KeyError('V6_PROTO_PRIVATE_KEY_INVALID', `the private key is ${key.asymmetricKeyType ?? 'not asymmetric'}, not RSA`);
  }
  return key;
}

/** The SubjectPublicKeyInfo PEM text of a private key's public half (`public_key_bytes`). */
export function publicKeyPem(privateKey: KeyObject): string {
  return createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string;
}

/** `public_key_str`: what the node PATCHes to `organization/<id>` as `public_key`. */
export function publicKeyString(privateKey: KeyObject): string {
  return b64encode(Buffer.from(publicKeyPem(privateKey), 'utf8'));
}

/**
 * `verify_public_key`: whether the server's `public_key` is the base64 of exactly our public PEM.
 * Where vantage6 raises on undecodable base64, this answers false (the node then uploads its key).
 */
export function verifyPublicKey(privateKey: KeyObject, publicKeyB64: string): boolean {
  try {
    return b64decode(publicKeyB64).equals(Buffer.from(publicKeyPem(privateKey), 'utf8'));
  } catch {
    return false;
  }
}

/** Load a recipient's public key from its `public_key_str` (base64 of an RSA public key PEM). */
export function loadPublicKeyString(publicKeyB64: string): KeyObject {
  let pem: string;
  let key: KeyObject;
  try {
    pem = b64decode(publicKeyB64).toString('latin1');
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new KeyError('V6_PROTO_PUBLIC_KEY_INVALID', 'invalid public key provided for encryption', error);
  }
  // createPublicKey also derives a public key from a private key PEM; vantage6 refuses those.
  if (!/-----BEGIN (RSA )?PUBLIC KEY-----/.test(pem) || key.asymmetricKeyType !== 'rsa') {
    throw new KeyError('V6_PROTO_PUBLIC_KEY_INVALID', 'invalid public key provided for encryption: not an RSA public key PEM');
  }
  return key;
}

/** A fresh organization key pair as vantage6 creates it (4096 bits, e=65537, PKCS#1 PEM). */
export async function generateRsaKeyPair(): Promise<{ privateKeyPem: string; publicKeyString: string }> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: RSA_KEY_BITS,
    publicExponent: RSA_PUBLIC_EXPONENT,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyString: b64encode(Buffer.from(publicKey, 'utf8')) };
}
