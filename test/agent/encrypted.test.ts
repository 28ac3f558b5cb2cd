import test from 'ava';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeAgent } from '../../agent/node-agent.js';
import { RsaCryptor } from '../../agent/protocol/encryption.js';
import type { UserClient } from '../dev-server/user-client.js';
import { startWorld, type World } from '../support/world.js';
import { createTask, researcherOf, startAgent } from './run-helpers.js';

const NODE = 3; // organization 1 in the encrypted collaboration 2
const ORG = 1;
const COLLABORATION = 2;

interface KeyPair {
  private_key_pem: string;
  public_key_str: string;
}
const vectors = JSON.parse(readFileSync(new URL('../fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as { key_pairs: KeyPair[] };
const [ours, wrong] = vectors.key_pairs as [KeyPair, KeyPair];
const researcherCryptor = RsaCryptor.fromPem(ours.private_key_pem);

let world: World;
let agent: NodeAgent;
let researcher: UserClient;

test.before(async () => {
  world = await startWorld();
  const keyFile = join(world.root, 'org1-private.pem');
  await writeFile(keyFile, ours.private_key_pem, { mode: 0o600 });
  agent = await startAgent(world, world.config(NODE, { encryption: { enabled: true, private_key: keyFile } }));
  researcher = await researcherOf(world);
});

test.after.always(async () => {
  await agent?.close();
  await world?.close();
});

async function runEncrypted(input: string) {
  const task = await createTask(researcher, { input, collaborationId: COLLABORATION, organizationId: ORG, name: 'encrypted' });
  const [run] = await researcher.waitForTask(task.id, { timeoutMs: 20_000 });
  const [result] = await researcher.getResults(task.id);
  return { run: run!, result: result?.result ?? null };
}

function encryptFor(value: unknown, publicKey: string): string {
  return researcherCryptor.encryptBytesToStr(Buffer.from(JSON.stringify(value), 'utf8'), publicKey);
}

test.serial('the agent uploaded organization 1\'s public key at startup', (t) => {
  t.is(world.server.state.fixtures.organizations.find((o) => o.id === ORG)?.public_key, ours.public_key_str);
});

test.serial('an encrypted input is decrypted by the agent and the result is encrypted for the initiating organization', async (t) => {
  const { run, result } = await runEncrypted(encryptFor({ method: 'partial_average', kwargs: { column: 'age' } }, ours.public_key_str));
  t.is(run.status, 'completed', run.log ?? '');
  t.truthy(result);
  t.throws(() => JSON.parse(Buffer.from(result!, 'base64').toString('utf8')), undefined, 'the result is not plain base64 JSON');
  const plain = researcherCryptor.decryptStrToBytes(result!);
  t.deepEqual(JSON.parse(plain.toString('utf8')), { sum: 120, count: 3 });
});

test.serial('an input encrypted for another key fails the run with a log saying it could not be decrypted', async (t) => {
  const { run } = await runEncrypted(encryptFor({ method: 'echo' }, wrong.public_key_str));
  t.is(run.status, 'failed');
  t.regex(run.log ?? '', /could not be decrypted/);
});
