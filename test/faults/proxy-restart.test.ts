// Fault scenario 5: the proxy sidecar restarted (SIGTERM, and SIGKILL) while algorithms call it.
// What an algorithm sees during the gap must be a retryable error (no connection, 502/503/504),
// never a wrong answer.
import test from 'ava';
import { createConnection } from 'node:net';
import type { NodeAgent } from '../../agent/node-agent.js';
import { freePort } from '../support/ports.js';
import { PROXY_CALLER_IMAGE, startWorld, type World } from '../support/world.js';
import { createTask, researcherOf, startAgent, waitFor } from '../agent/run-helpers.js';
import {
  CommandProcess, SEED, assertEndState, assertHealthy, countJobsCreated, createRuns, endState, faultConfig, fileLogger, prng, report,
  scale, sleep, waitAllFinished, writeConfigFile,
} from './harness.js';

const NODE = 1;
const ORG = 1;
const RUNS = scale(3, 10);
const CALL_SECONDS = scale(10, 40);

let world: World;
let agent: NodeAgent | undefined;
let proxy: CommandProcess | undefined;

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  await proxy?.kill('SIGTERM');
  await agent?.close();
  await world?.close();
});

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test(`proxy restarted while ${RUNS} algorithms call it: retryable errors only, never a wrong answer`, async (t) => {
  t.timeout(scale(3, 10) * 60_000);
  const random = prng(SEED + 5);
  const jobsCreated = countJobsCreated(world);
  const port = await freePort();
  const config = await faultConfig(world, NODE, {
    queue: { prefix: `faults-proxy-${NODE}`, concurrency: 4, max_active_jobs: RUNS + 2 },
    proxy: { url: 'http://127.0.0.1', port },
  });
  const configPath = await writeConfigFile(world, config, 'proxy-restart');
  const startProxy = async (): Promise<void> => {
    proxy = new CommandProcess(world, 'proxy', configPath, 'proxy-restart');
    await waitFor('the proxy listening', () => listening(port), 30_000);
  };
  await startProxy();
  agent = await startAgent(world, config, fileLogger('proxy-restart'));
  const researcher = await researcherOf(world);
  const target = await createTask(researcher, { method: 'echo', kwargs: {}, organizationId: ORG, name: 'proxy target' });
  const expected = new Map<number, string>();
  const runIds = await createRuns(
    world, researcher, ORG,
    Array.from({ length: RUNS }, () => ({
      input: { method: 'call_proxy', kwargs: { seconds: CALL_SECONDS, task_id: target.id }, image: PROXY_CALLER_IMAGE, name: 'proxy caller' },
      expect: 'completed',
    })),
    expected,
  );
  await waitFor('every caller active', () => runIds.every((id) => world.server.state.runs.get(id)?.status === 'active'), 60_000);

  const restarts = scale(3, 10);
  let downMs = 0;
  const end = Date.now() + (CALL_SECONDS - 2) * 1000;
  for (let i = 0; i < restarts && Date.now() < end; i += 1) {
    await sleep(random.between(300, 1_500));
    const down = Date.now();
    await proxy!.kill(i % 2 === 0 ? 'SIGTERM' : 'SIGKILL');
    await sleep(random.between(100, 1_000));
    await startProxy();
    downMs += Date.now() - down;
  }
  const faultEnd = Date.now();
  const lastFinished = await waitAllFinished(world, runIds, 2 * 60_000);

  const counts = { ok: 0, retryable: 0, wrong: 0, wrongAnswers: [] as string[] };
  for (const runId of runIds) {
    const result = world.server.state.runs.get(runId)?.result;
    if (!result) continue;
    const seen = JSON.parse(Buffer.from(result, 'base64').toString('utf8')) as typeof counts;
    counts.ok += seen.ok;
    counts.retryable += seen.retryable;
    counts.wrong += seen.wrong;
    counts.wrongAnswers.push(...seen.wrongAnswers);
  }
  const state = endState(world, expected, jobsCreated);
  report(t, {
    scenario: 'proxy restart',
    runs: runIds.length,
    restarts,
    downSeconds: downMs / 1000,
    calls: counts.ok + counts.retryable + counts.wrong,
    retryableErrors: counts.retryable,
    wrongAnswers: counts.wrong,
    lost: state.lost.length,
    duplicated: state.duplicated.length,
    wrongStatus: state.wrongStatus.length,
    resent: state.resent,
    recoverSeconds: Math.max(0, lastFinished - faultEnd) / 1000,
  });
  t.deepEqual(counts.wrongAnswers, [], 'answers that were neither right nor retryable');
  t.true(counts.retryable > 0, 'the restarts were seen by the algorithms');
  t.true(counts.ok > 0);
  await assertEndState(t, world, config, NODE, state);
  await assertHealthy(t, world, researcher, ORG);
});
