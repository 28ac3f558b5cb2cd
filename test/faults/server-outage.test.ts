// Fault scenario 3: the vantage6 server down for a while (60 s in the full suite) while runs
// finish; their results are delivered once each after it is back.
import test from 'ava';
import type { NodeAgent } from '../../agent/node-agent.js';
import { startWorld, type World } from '../support/world.js';
import { researcherOf, startAgent, waitFor } from '../agent/run-helpers.js';
import {
  SEED, assertEndState, fileLogger, assertHealthy, countJobsCreated, createRuns, endState, faultConfig, prng, randomRun, report, scale, sleep,
  waitAllFinished,
} from './harness.js';

const NODE = 1;
const ORG = 1;
const RUNS = scale(10, 40);
const OUTAGE_MS = scale(4_000, 60_000);

let world: World;
let agent: NodeAgent | undefined;

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  await world?.server.resume();
  await agent?.close();
  await world?.close();
});

test(`server down ${OUTAGE_MS / 1000} s while ${RUNS} runs finish: results delivered after, once each`, async (t) => {
  t.timeout(scale(3, 15) * 60_000);
  const random = prng(SEED + 3);
  const jobsCreated = countJobsCreated(world);
  const config = await faultConfig(world, NODE, { queue: { prefix: `faults-server-${NODE}`, concurrency: 4, max_active_jobs: RUNS } });
  agent = await startAgent(world, config, fileLogger('server-outage'));
  const researcher = await researcherOf(world);
  const expected = new Map<number, string>();
  // Runs that finish during the outage: started before it, each a little longer than the last.
  const specs = Array.from({ length: RUNS }, (_, i) => {
    const run = randomRun(random);
    const seconds = 1 + ((OUTAGE_MS / 1000 - 2) * i) / RUNS;
    return run.expect === 'completed' ? { input: { method: 'sleep', kwargs: { seconds } }, expect: 'completed' } : run;
  });
  const runIds = await createRuns(world, researcher, ORG, specs.map((s) => ({ input: { ...s.input, name: 'outage' }, expect: s.expect })), expected);
  await waitFor('every run started', () => runIds.every((id) => world.server.state.runs.get(id)?.started_at != null), 60_000);

  await world.server.suspend();
  await sleep(OUTAGE_MS);
  const finishedDuring = runIds.filter((id) => world.server.state.runs.get(id)?.finished_at != null).length;
  await world.server.resume();
  const faultEnd = Date.now();
  const lastFinished = await waitAllFinished(world, runIds, 3 * 60_000);

  const state = endState(world, expected, jobsCreated);
  report(t, {
    scenario: 'server outage',
    runs: runIds.length,
    outageSeconds: OUTAGE_MS / 1000,
    finishedBeforeOutage: finishedDuring,
    lost: state.lost.length,
    duplicated: state.duplicated.length,
    wrongStatus: state.wrongStatus.length,
    resent: state.resent,
    recoverSeconds: (lastFinished - faultEnd) / 1000,
  });
  await assertEndState(t, world, config, NODE, state);
  await waitFor('the socket connected again', async () => (await agent!.health()).socketConnected, 30_000).catch(() => undefined);
  const health = await agent.health();
  t.true(health.socketConnected && health.redisReachable, JSON.stringify(health));
  await assertHealthy(t, world, researcher, ORG);
});
