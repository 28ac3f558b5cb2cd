// Fault scenario 2: Redis (append-only) stopped and started again, and once killed outright,
// while runs are queued, running and being reported.
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
const RUNS = scale(16, 80);

let world: World;
let agent: NodeAgent | undefined;

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  await world?.redis?.start().catch(() => undefined);
  await agent?.close();
  await world?.close();
});

test(`Redis restarted while runs are queued and running: ${RUNS} runs, each finished once with one Job`, async (t) => {
  t.timeout(scale(3, 20) * 60_000);
  const random = prng(SEED + 2);
  const redis = world.redis!;
  const jobsCreated = countJobsCreated(world);
  const config = await faultConfig(world, NODE, { queue: { prefix: `faults-redis-${NODE}`, concurrency: 4, max_active_jobs: 6 } });
  agent = await startAgent(world, config, fileLogger('redis-restart'));
  const researcher = await researcherOf(world);
  const expected = new Map<number, string>();

  const restarts = scale(3, 10);
  let downMs = 0;
  for (let i = 0; i < restarts; i += 1) {
    const count = i === restarts - 1 ? RUNS - expected.size : Math.round(RUNS / restarts);
    const specs = Array.from({ length: count }, () => randomRun(random, 3));
    await createRuns(world, researcher, ORG, specs.map((s) => ({ input: { ...s.input, name: `redis-${i}` }, expect: s.expect })), expected);
    await sleep(random.between(500, 3_000));
    const down = Date.now();
    // Every third outage a crash (SIGKILL): append-only with fsync always loses nothing acknowledged.
    await (i % 3 === 2 ? redis.kill() : redis.stop());
    await sleep(random.between(500, 4_000));
    await redis.start();
    downMs += Date.now() - down;
  }
  const faultEnd = Date.now();
  const runIds = [...expected.keys()];
  const lastFinished = await waitAllFinished(world, runIds, scale(2, 10) * 60_000);

  const state = endState(world, expected, jobsCreated);
  report(t, {
    scenario: 'Redis restart',
    runs: runIds.length,
    restarts,
    downSeconds: downMs / 1000,
    lost: state.lost.length,
    duplicated: state.duplicated.length,
    wrongStatus: state.wrongStatus.length,
    resent: state.resent,
    recoverSeconds: Math.max(0, lastFinished - faultEnd) / 1000,
  });
  await assertEndState(t, world, config, NODE, state);
  t.like(await agent.health(), { redisReachable: true, socketConnected: true });
  await assertHealthy(t, world, researcher, ORG);
});
