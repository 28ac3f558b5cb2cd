/**
 * `POST /task` from an algorithm (spec A10; the 5.x contract §6): in an encrypted collaboration
 * every `organizations[].input` (4.x) or `organizations[].arguments` (5) — base64 of the input,
 * as the algorithm client sends it — is encrypted for its organization's public key; otherwise
 * the body goes to the server untouched. The lookup of public keys is injected; the rest is pure.
 */
import type { Cryptor } from '../agent/protocol/encryption.js';
import { ProtocolError } from '../agent/protocol/errors.js';
import { b64decode } from '../agent/protocol/python-codecs.js';
import { ProxyError } from './errors.js';

/** An organization's `public_key` as the server holds it (base64 of its PEM), or null if it has none. */
export type PublicKeyLookup = (organizationId: number) => Promise<string | null>;

/** The subtask's organizations; upstream's 400 when there are none. */
export function taskOrganizations(body: Record<string, unknown>): unknown[] {
  const organizations = body.organizations;
  if (!Array.isArray(organizations) || organizations.length === 0) {
    throw new ProxyError('V6_PROXY_BAD_REQUEST', 'Organizations missing from input');
  }
  return organizations;
}

/** Where a subtask's input is in each organization's entry: `input` for a 4.x server, `arguments` for a 5 hub. */
export type TaskInputField = 'input' | 'arguments';

/** `body` with each organization's input encrypted for that organization. */
export async function encryptTaskInputs(
  body: Record<string, unknown>,
  cryptor: Cryptor,
  publicKeyOf: PublicKeyLookup,
  field: TaskInputField = 'input',
): Promise<Record<string, unknown>> {
  const organizations = taskOrganizations(body).map((entry, index) => {
    const org = entry as Record<string, unknown> | null;
    if (typeof org !== 'object' || org === null || !Number.isInteger(org.id) || typeof org[field] !== 'string') {
      throw new ProxyError('V6_PROXY_BAD_REQUEST', `organizations[${index}] must be {"id": <integer>, "${field}": <base64 string>}`);
    }
    return { entry: org, id: org.id as number, input: org[field] as string, index };
  });
  const ids = [...new Set(organizations.map((org) => org.id))];
  const keys = new Map(await Promise.all(ids.map(async (id) => [id, await publicKeyOf(id)] as const)));
  const encrypted = organizations.map(({ entry, id, input, index }) => {
    const key = keys.get(id);
    if (key === null || key === undefined || key === '') {
      throw new ProxyError('V6_PROXY_ENCRYPTION_FAILED', `Organization ${id} has no public key: its node must have started with encryption`);
    }
    return { ...entry, [field]: encryptInput(cryptor, input, key, id, index, field) };
  });
  return { ...body, organizations: encrypted };
}

function encryptInput(cryptor: Cryptor, input: string, publicKey: string, id: number, index: number, field: TaskInputField): string {
  let plaintext: Buffer;
  try {
    plaintext = b64decode(input);
  } catch (error) {
    throw new ProxyError('V6_PROXY_BAD_REQUEST', `organizations[${index}].${field} is not base64`, error);
  }
  try {
    return cryptor.encryptBytesToStr(plaintext, publicKey);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    throw new ProxyError('V6_PROXY_ENCRYPTION_FAILED', `Cannot encrypt for organization ${id}: ${error.message}`, error);
  }
}
