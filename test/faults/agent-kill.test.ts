// Fault scenario 1: the agent process killed with SIGKILL at random points (while it starts,
// launches, watches and reports) and started again each time, while runs keep arriving.
import test from 'ava';
import { startWorld, type World } from '../support/world.js';
import { researcherOf } from '../agent/run-helpers.js';
import {
  CommandProcess, SEED, assertEndState, assertHealthy, countJobsCreated, createRuns, endState, faultConfig, prng, randomRun,
  report, scale, sleep, waitAllFinished, writeConfigFile,
} from './harness.js';

const NODE = 1;
const ORG = 1;
const RUNS = scale(20, 200);

let world: World;
let agent: CommandProcess | undefined;

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  await agent?.kill('SIGTERM');
  await world?.close();
});

test(`agent killed with SIGKILL at random points: ${RUNS} runs, each finished once with one Job`, async (t) => {
  t.timeout(scale(4, 30) * 60_000);
  const random = prng(SEED);
  const jobsCreated = countJobsCreated(world);
  const config = await faultConfig(world, NODE, { queue: { prefix: `faults-kill-${NODE}`, concurrency: 4, max_active_jobs: 10 } });
  const configPath = await writeConfigFile(world, config, 'agent-kill');
  const researcher = await researcherOf(world);
  const expected = new Map<number, string>();

  // Runs arrive in batches while the agent is killed and started again; each life lasts a
  // random 0.3–5 s, so kills land in start-up, launches, status changes and reports alike.
  const batches = scale(4, 25);
  let kills = 0;
  for (let batch = 0; batch < batches; batch += 1) {
    const count = Math.round(RUNS / batches);
    const specs = Array.from({ length: batch === batches - 1 ? RUNS - expected.size : count }, () => randomRun(random));
    await createRuns(world, researcher, ORG, specs.map((s) => ({ input: { ...s.input, name: `kill-${batch}` }, expect: s.expect })), expected);
    for (let life = 0; life < 2; life += 1) {
      agent = new CommandProcess(world, 'start', configPath, 'agent-kill');
      await sleep(random.between(300, 5_000));
      await agent.kill('SIGKILL');
      kills += 1;
    }
  }
  const faultEnd = Date.now();
  agent = new CommandProcess(world, 'start', configPath, 'agent-kill');
  const runIds = [...expected.keys()];
  const lastFinished = await waitAllFinished(world, runIds, scale(3, 15) * 60_000);

  const state = endState(world, expected, jobsCreated);
  report(t, {
    scenario: 'agent SIGKILL',
    runs: runIds.length,
    kills,
    lost: state.lost.length,
    duplicated: state.duplicated.length,
    wrongStatus: state.wrongStatus.length,
    resent: state.resent,
    recoverSeconds: (lastFinished - faultEnd) / 1000,
  });
  await assertEndState(t, world, config, NODE, state);
  t.true(agent.alive, 'the last agent is running');
  await assertHealthy(t, world, researcher, ORG);
});
