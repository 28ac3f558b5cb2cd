// What an algorithm can do through its run folder, with the node run as the chart runs it: the
// agent as its own process, uid 1000 in group 10000 (runAsUser 1000, runAsGroup = fsGroup), on a
// task volume owned by that group, and the algorithms as uid 10000 (group 10000). Secrets the
// attacks aim at: the agent's environment (its API key), the organization's private key, another
// run's input. The whole node must serve a normal run after them.
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmod, chown, copyFile, link, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentRunFolder } from '../../agent/kube/paths.js';
import type { Config } from '../../agent/config.js';
import type { UserClient } from '../dev-server/user-client.js';
import { startWorld, type World } from '../support/world.js';
import { CommandProcess, assertEndState, countJobsCreated, endState, faultConfig, writeConfigFile } from '../faults/harness.js';
import { createTask, researcherOf, serverRun, waitFor } from './run-helpers.js';

const NODE = 1;
const ORG = 1;
const AGENT = { uid: 1000, gid: 10_000 };

let world: World;
let agent: CommandProcess;
let researcher: UserClient;
let config: Config;
let tasksRoot: string;
let apiKey: string;
const marker = `agent-env-marker-${randomUUID()}`;
let keyFile: string;
const KEY_SECRET = `-----BEGIN PRIVATE KEY----- ${randomUUID()}`;
let jobsCreated: Map<number, number>;

test.before(async () => {
  world = await startWorld();
  jobsCreated = countJobsCreated(world);
  tasksRoot = join(world.root, `org${ORG}`, 'tasks');
  // The claim as a pod with fsGroup 10000 sees it.
  await chown(tasksRoot, 0, AGENT.gid);
  await chmod(tasksRoot, 0o2770);
  keyFile = join(world.root, `org${ORG}`, 'private_key.pem');
  await writeFile(keyFile, KEY_SECRET, { mode: 0o600 });
  await chown(keyFile, AGENT.uid, AGENT.gid);
  const kubeconfigPath = join(world.root, 'agent-kubeconfig');
  await copyFile(world.cluster.kubeconfigPath, kubeconfigPath);
  await chown(kubeconfigPath, AGENT.uid, AGENT.gid);
  config = await faultConfig(world, NODE, { queue: { prefix: `run-folder-attacks-${NODE}`, concurrency: 8 } });
  apiKey = config.api_key;
  const configPath = await writeConfigFile(world, config, 'run-folder-attacks');
  const previous = process.umask(0o022); // the umask of a container process
  agent = new CommandProcess(world, 'start', configPath, 'run-folder-attacks', {
    user: AGENT,
    env: { V6_API_KEY: apiKey, V6_TEST_MARKER: marker },
    kubeconfigPath,
  });
  process.umask(previous);
  researcher = await researcherOf(world);
});

test.after.always(async () => {
  await agent?.kill('SIGTERM');
  await world?.close();
});

/** Nothing secret in what the server got for the run: its result and its log. */
function assertNoSecrets(t: ExecutionContext, runId: number, otherInput?: string): void {
  const run = world.server.state.runs.get(runId)!;
  const seen = `${Buffer.from(run.result ?? '', 'base64').toString('latin1')}\n${run.result ?? ''}\n${run.log ?? ''}`;
  t.false(seen.includes(marker), "the agent's environment leaked");
  t.false(seen.includes(apiKey), "the node's API key leaked");
  t.false(seen.includes(KEY_SECRET), 'the private key leaked');
  if (otherInput !== undefined) t.false(seen.includes(otherInput), "another run's input leaked");
}

/** The task's run once finished, as the server holds it (result included). */
async function finished(taskId: number) {
  await researcher.waitForTask(taskId, { timeoutMs: 60_000 });
  const run = serverRun(world, taskId, ORG)!;
  return { ...run, runId: run.id };
}

async function normalRunCompletes(t: ExecutionContext): Promise<void> {
  const task = await createTask(researcher, { method: 'echo', kwargs: { after: 'attacks' }, organizationId: ORG, name: 'normal run' });
  const run = await finished(task.id);
  t.is(run.status, 'completed', run.log ?? '');
  t.deepEqual(JSON.parse(Buffer.from(run.result ?? '', 'base64').toString('utf8')), { after: 'attacks' });
}

test.serial('under the chart\'s users an algorithm reads its input and writes its output', async (t) => {
  await normalRunCompletes(t);
});

test.serial('an algorithm cannot plant links, FIFOs or directories in its run folder; nothing leaks and the node goes on', async (t) => {
  const victim = await createTask(researcher, { method: 'sleep', kwargs: { seconds: 30, victim: 'input of another run' }, organizationId: ORG, name: 'victim' });
  const victimRunId = serverRun(world, victim.id, ORG)!.id;
  await waitFor('the victim running', () => world.server.state.runs.get(victimRunId)?.status === 'active', 30_000);
  const victimInput = join(agentRunFolder(tasksRoot, victimRunId), 'input');
  const attacks = [
    { kind: 'symlink', target: '/proc/self/environ' },
    { kind: 'symlink', target: keyFile },
    { kind: 'symlink', target: victimInput },
    { kind: 'symlink', target: '/dev/zero' },
    { kind: 'hardlink', target: victimInput },
    { kind: 'fifo', target: '' },
    { kind: 'directory', target: '' },
    { kind: 'log', target: '/proc/self/environ' },
  ];
  const tasks = await Promise.all(
    attacks.map((kwargs) => createTask(researcher, { method: 'plant', kwargs, organizationId: ORG, name: `plant ${kwargs.kind} ${kwargs.target}` })),
  );
  for (const [index, task] of tasks.entries()) {
    const run = await finished(task.id);
    const what = JSON.stringify(attacks[index]);
    t.is(run.status, 'completed', `${what}: ${run.log ?? ''}`);
    const output = JSON.parse(Buffer.from(run.result ?? '', 'base64').toString('utf8')) as { planted: boolean; code: string };
    t.deepEqual(output, { planted: false, code: 'EACCES' }, `${what}: the run folder refused the algorithm`);
    assertNoSecrets(t, run.runId, 'input of another run');
  }
  await researcher.kill(victim.id);
  await normalRunCompletes(t);
});

/**
 * Were a run folder writable by its algorithm after all (another fsGroup, a volume that ignores
 * modes), the agent still reads nothing but a regular file of its own: planted here, as root,
 * while each algorithm idles, then the algorithm ends well.
 */
const plants: Array<[string, RegExp, (output: string, victimInput: string) => Promise<void>]> = [
  ["a symbolic link to the agent's environment", /the run's output is a symbolic link/, (o) => symlink('/proc/self/environ', o)],
  ['a symbolic link to the private key', /the run's output is a symbolic link/, (o) => symlink(keyFile, o)],
  ["a symbolic link to another run's input", /the run's output is a symbolic link/, (o, v) => symlink(v, o)],
  ['a symbolic link to /dev/zero', /the run's output is a symbolic link/, (o) => symlink('/dev/zero', o)],
  ["a hard link to another run's input", /the run's output is a hard link/, (o, v) => link(v, o)],
  ['a FIFO', /the run's output is a FIFO/, async (o) => void execFileSync('mkfifo', [o])],
  ['a second FIFO', /the run's output is a FIFO/, async (o) => void execFileSync('mkfifo', [o])],
  ['a directory', /the run's output is a directory/, (o) => mkdir(o)],
];

test.serial('hostile outputs planted in a run folder fail that run with a log saying what was found; nothing leaks, nothing else stops', async (t) => {
  const victim = await createTask(researcher, { method: 'echo', kwargs: { victim: 'input of another run' }, organizationId: ORG, name: 'victim' });
  await finished(victim.id);
  const keeper = await createTask(researcher, { method: 'sleep', kwargs: { seconds: 60, keep: 'this input' }, organizationId: ORG, name: 'keeper' });
  const keeperRunId = serverRun(world, keeper.id, ORG)!.id;
  await waitFor('the keeper running', () => world.server.state.runs.get(keeperRunId)?.status === 'active', 30_000);
  const victimInput = join(agentRunFolder(tasksRoot, keeperRunId), 'input');

  const tasks = await Promise.all(plants.map(([what]) => createTask(researcher, { method: 'idle', kwargs: { seconds: 4 }, organizationId: ORG, name: what })));
  await Promise.all(
    tasks.map(async (task, index) => {
      const runId = serverRun(world, task.id, ORG)!.id;
      await waitFor(`${plants[index]![0]}: its run active`, () => world.server.state.runs.get(runId)?.status === 'active', 30_000);
      const output = join(agentRunFolder(tasksRoot, runId), 'output');
      await rm(output);
      await plants[index]![2](output, victimInput);
    }),
  );
  for (const [index, task] of tasks.entries()) {
    const [what, found] = plants[index]!;
    const run = await finished(task.id);
    t.is(run.status, 'failed', `${what}: ${run.log ?? ''}`);
    t.regex(run.log ?? '', found, what);
    t.regex(run.log ?? '', /The result was not sent/, what);
    t.falsy(world.server.state.runs.get(run.runId)!.result, `${what}: no result sent`);
    assertNoSecrets(t, run.runId, 'this input');
  }
  t.is(world.server.state.runs.get(keeperRunId)?.status, 'active', 'the other run went on');
  await researcher.kill(keeper.id);
  await normalRunCompletes(t);
});

test.serial('afterwards: one terminal status per run, one Job per run, nothing of any run left', async (t) => {
  const expected = new Map<number, string>();
  for (const run of world.server.state.runs.values()) {
    if (run.organization_id === ORG) expected.set(run.id, run.status);
  }
  await assertEndState(t, world, config, NODE, endState(world, expected, jobsCreated));
  t.true(agent.alive, 'the agent is still running');
});
