import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { AgentError } from './errors.js';
import { DummyCryptor, RsaCryptor, type Cryptor } from './protocol/encryption.js';
import { loadPrivateKey, publicKeyString } from './protocol/keys.js';
import type { NodeIdentity, ServerClient } from './server/client.js';

/**
 * The encryption handshake at startup (spec A3): the collaboration's `encrypted` flag must match
 * `encryption.enabled`; with encryption, the organization's public key at the server must be
 * this node's, and is uploaded when it is not.
 */
export async function encryptionHandshake(
  config: Config,
  identity: NodeIdentity,
  client: ServerClient,
  logger: Logger,
): Promise<Cryptor> {
  const collaboration = await client.request<{ encrypted?: boolean | number }>('GET', `collaboration/${identity.collaborationId}`);
  const encrypted = collaboration.encrypted === true || collaboration.encrypted === 1;
  if (encrypted !== config.encryption.enabled) {
    throw new AgentError(
      'V6_ENCRYPTION_MISMATCH',
      `collaboration ${identity.collaborationId} is ${encrypted ? '' : 'not '}encrypted but encryption.enabled is ${config.encryption.enabled}: set encryption.enabled to ${encrypted}`,
      { retryable: false },
    );
  }
  if (!encrypted) return new DummyCryptor();

  const path = config.encryption.private_key ?? '';
  let key;
  try {
    key = loadPrivateKey(await readFile(path));
  } catch (error) {
    throw new AgentError('V6_ENCRYPTION_MISMATCH', `encryption.private_key: cannot read an RSA private key from ${path}: ${(error as Error).message}`, {
      retryable: false,
    });
  }
  const ours = publicKeyString(key);
  const organization = await client.request<{ public_key?: string | null }>('GET', `organization/${identity.organizationId}`);
  if (organization.public_key !== ours) {
    logger.info({ organizationId: identity.organizationId }, 'uploading this node\'s public key to the server');
    await client.request('PATCH', `organization/${identity.organizationId}`, { body: { public_key: ours } });
  }
  return new RsaCryptor(key);
}
