// Fault scenario 4: the Kubernetes API answering 5% of requests 500, dropping every watch every
// few seconds, answering 410 Expired to resumed watches, and losing the responses of Job creates
// (the Job exists; the retry gets 409).
import test from 'ava';
import type { NodeAgent } from '../../agent/node-agent.js';
import { startWorld, type World } from '../support/world.js';
import { researcherOf, startAgent } from '../agent/run-helpers.js';
import {
  SEED, assertEndState, fileLogger, assertHealthy, countJobsCreated, createRuns, endState, faultConfig, prng, randomRun, report, scale, sleep,
  waitAllFinished,
} from './harness.js';

const NODE = 1;
const ORG = 1;
const RUNS = scale(16, 100);

let world: World;
let agent: NodeAgent | undefined;

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  world?.cluster.faults.reset();
  await agent?.close();
  await world?.close();
});

test(`Kubernetes API with 5% 500s, dropped watches, 410 on resume, lost create responses: ${RUNS} runs`, async (t) => {
  t.timeout(scale(3, 20) * 60_000);
  const random = prng(SEED + 4);
  const jobsCreated = countJobsCreated(world);
  const config = await faultConfig(world, NODE, { queue: { prefix: `faults-kube-${NODE}`, concurrency: 4, max_active_jobs: 8 } });
  agent = await startAgent(world, config, fileLogger('kube-api'));
  const researcher = await researcherOf(world);
  const expected = new Map<number, string>();

  const lostCreates = Math.max(2, Math.round(RUNS / 8));
  world.cluster.faults.set({
    seed: SEED + 4,
    errorRate: 0.05,
    dropWatchesEveryMs: scale(2_000, 3_000),
    expireWatches: 1_000_000,
    loseCreateResponses: { jobs: lostCreates },
  });
  const start = Date.now();
  const batches = 4;
  for (let i = 0; i < batches; i += 1) {
    const specs = Array.from({ length: Math.round(RUNS / batches) }, () => randomRun(random));
    await createRuns(world, researcher, ORG, specs.map((s) => ({ input: { ...s.input, name: `kube-${i}` }, expect: s.expect })), expected);
    await sleep(random.between(500, 2_000));
  }
  const runIds = [...expected.keys()];
  const lastFinished = await waitAllFinished(world, runIds, scale(90_000, 15 * 60_000));
  const createsLeftToLose = world.cluster.faults.settings.loseCreateResponses.jobs ?? 0;
  world.cluster.faults.reset();

  const state = endState(world, expected, jobsCreated);
  report(t, {
    scenario: 'Kubernetes API faults',
    runs: runIds.length,
    lostCreateResponses: lostCreates - createsLeftToLose,
    lost: state.lost.length,
    duplicated: state.duplicated.length,
    wrongStatus: state.wrongStatus.length,
    resent: state.resent,
    allFinishedSeconds: (lastFinished - start) / 1000,
    recoverSeconds: 0,
  });
  await assertEndState(t, world, config, NODE, state);
  t.like(await agent.health(), { redisReachable: true, socketConnected: true });
  await assertHealthy(t, world, researcher, ORG);
});
