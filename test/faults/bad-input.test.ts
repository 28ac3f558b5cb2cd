// Fault scenario 6: bad input. Malformed configs stop the agent with exit code 2; runs the node
// cannot run (undecryptable input, input that is not JSON, an invalid image name, an oversized
// output) end with a status that says why; a run of another organization slipped into the
// queue and a kill of a run the node never had change nothing; a server answering garbage JSON
// only delays runs. Each run still ends exactly once, with at most one Job.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { NodeAgent } from '../../agent/node-agent.js';
import { launchJobId } from '../../queue/run-queues.js';
import { quietTask } from '../dev-server/quiet-task.js';
import { ALGORITHM_IMAGE, startWorld, type World } from '../support/world.js';
import { createTask, researcherOf, scopeOf, startAgent } from '../agent/run-helpers.js';
import {
  CommandProcess, SEED, assertEndState, assertHealthy, countJobsCreated, createRuns, endState, faultConfig, fileLogger, prng, report,
  scale, sleep, waitAllFinished,
} from './harness.js';

const NODE = 1; // organization 1 in the unencrypted collaboration 1
const ENCRYPTED_NODE = 3; // organization 1 in the encrypted collaboration 2
const ORG = 1;
const OTHER_ORG = 2;
const GOOD_RUNS = scale(6, 30);
const vectors = JSON.parse(readFileSync(new URL('../fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as {
  key_pairs: Array<{ private_key_pem: string }>;
};

let world: World;
const agents: NodeAgent[] = [];

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  world?.server.faults.clear();
  for (const agent of agents) await agent.close();
  await world?.close();
});

test('malformed configs stop the agent with exit code 2, naming the field', async (t) => {
  const cases: Record<string, string> = {
    'not YAML': 'api_key: [unclosed\n',
    'a wrong type': `${readFileSync(await goodConfigFile(), 'utf8')}\nqueue: {concurrency: many}\n`,
    'an invalid algorithm_env name': `${readFileSync(await goodConfigFile(), 'utf8')}\nalgorithm_env: {"BAD NAME=": x}\n`,
  };
  for (const [what, text] of Object.entries(cases)) {
    const path = join(world.root, `bad-${what.replaceAll(' ', '-')}.yaml`);
    await writeFile(path, text);
    const agent = new CommandProcess(world, 'start', path, 'bad-config');
    let stderr = '';
    agent.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exit = await agent.exited;
    t.is(exit.code, 2, `${what}: ${stderr}`);
    t.true(stderr.length > 0, `${what}: a message`);
  }
});

async function goodConfigFile(): Promise<string> {
  const { stringify } = await import('yaml');
  const path = join(world.root, 'good.yaml');
  const config = world.config(NODE) as unknown as Record<string, unknown>;
  // Duplicate keys are refused by YAML itself; the cases append their key to a config without it.
  const { queue: _queue, algorithm_env: _env, ...rest } = config;
  await writeFile(path, stringify(rest));
  return path;
}

test('bad runs end once with a status that says why; a foreign run and an unknown kill change nothing; garbage JSON only delays', async (t) => {
  t.timeout(scale(3, 10) * 60_000);
  const random = prng(SEED + 6);
  const jobsCreated = countJobsCreated(world);
  const config = await faultConfig(world, NODE, {
    queue: { prefix: `faults-bad-${NODE}`, concurrency: 4, max_active_jobs: 10 },
    results: { max_output_bytes: 1_000 },
  });
  const keyFile = join(world.root, 'org1-private.pem');
  await writeFile(keyFile, vectors.key_pairs[0]!.private_key_pem, { mode: 0o600 });
  const encryptedConfig = await faultConfig(world, ENCRYPTED_NODE, {
    queue: { prefix: `faults-bad-${ENCRYPTED_NODE}`, concurrency: 2, max_active_jobs: 4 },
    encryption: { enabled: true, private_key: keyFile },
  });
  agents.push(await startAgent(world, config, fileLogger('bad-input')));
  agents.push(await startAgent(world, encryptedConfig, fileLogger('bad-input-encrypted')));
  const researcher = await researcherOf(world);
  const expected = new Map<number, string>();

  // A run of another organization put straight into this node's queue, as a confused or
  // malicious sender might: the node must not run it.
  const foreign = await createTask(researcher, { method: 'echo', kwargs: {}, organizationId: OTHER_ORG, name: 'foreign' });
  const foreignRun = world.server.state.runsOfTask(foreign.id)[0]!;
  const launch = new Queue('launch', { prefix: config.queue.prefix, connection: { url: world.redisUrl } });
  await launch.add('launch', { runId: foreignRun.id, taskId: foreign.id }, { jobId: launchJobId(scopeOf(config, NODE), foreignRun.id), attempts: 3 });
  await launch.close();

  // A kill of a run this node never heard of.
  const unknown = quietTask(world.server, { collaborationId: 1, organizationIds: [ORG], image: ALGORITHM_IMAGE });
  const unknownRun = world.server.state.runsOfTask(unknown.id)[0]!;
  await researcher.kill(unknown.id);

  world.server.faults.set({ garbageJsonRate: 0.1 });
  // The garbage answers hit the researcher too; a garbled request never reaches a handler, so
  // creating the task again is safe.
  const create = async (organizationId: number, specs: Parameters<typeof createRuns>[3]): Promise<void> => {
    for (const spec of specs) {
      for (let attempt = 1; ; attempt += 1) {
        try {
          await createRuns(world, researcher, organizationId, [spec], expected);
          break;
        } catch (error) {
          if (!(error instanceof SyntaxError) || attempt >= 20) throw error;
        }
      }
    }
  };
  await create(ORG, [
    { input: { input: Buffer.from('this is not JSON').toString('base64'), name: 'not json' }, expect: 'failed' },
    { input: { method: 'echo', kwargs: {}, image: 'Not A Valid//Image::Name', name: 'bad image' }, expect: 'non-existing Docker image' },
    { input: { method: 'big_output', kwargs: { bytes: 5_000 }, name: 'big output' }, expect: 'failed' },
    ...Array.from({ length: GOOD_RUNS }, (_, i) => ({
      input: { method: random.next() < 0.5 ? 'echo' : 'sleep', kwargs: { seconds: 0.5, i }, name: 'good' },
      expect: 'completed',
    })),
  ]);
  await create(ORG, [
    { input: { input: 'this is no ciphertext', collaborationId: 2, name: 'undecryptable' }, expect: 'failed' },
  ]);
  await sleep(scale(4_000, 20_000));
  world.server.faults.clear();
  const faultEnd = Date.now();
  const runIds = [...expected.keys()];
  const lastFinished = await waitAllFinished(world, runIds, 2 * 60_000);

  const state = endState(world, expected, jobsCreated);
  report(t, {
    scenario: 'bad input',
    runs: runIds.length,
    lost: state.lost.length,
    duplicated: state.duplicated.length,
    wrongStatus: state.wrongStatus.length,
    resent: state.resent,
    recoverSeconds: Math.max(0, lastFinished - faultEnd) / 1000,
  });
  for (const wrong of state.wrongStatus) t.log(`run ${wrong.runId}: expected ${wrong.expected}, got ${wrong.actual}: ${wrong.log ?? ''}`);
  await assertEndState(t, world, config, NODE, state);
  await assertEndState(t, world, encryptedConfig, ENCRYPTED_NODE, { lost: [], duplicated: [], wrongStatus: [], resent: 0 });
  t.false(jobsCreated.has(foreignRun.id), 'no Job for another organization\'s run');
  t.deepEqual(world.server.state.patches.filter((p) => p.run_id === foreignRun.id), [], 'nothing sent about another organization\'s run');
  t.false(jobsCreated.has(unknownRun.id), 'no Job for the unknown run');
  t.deepEqual(world.server.state.patches.filter((p) => p.run_id === unknownRun.id), [], 'nothing sent about the run the node never had');
  for (const agent of agents) t.like(await agent.health(), { redisReachable: true, socketConnected: true });
  await assertHealthy(t, world, researcher, ORG);
});
