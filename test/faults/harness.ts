// Shared by the fault scenarios: their scale (a CI slice by default, the whole suite with
// V6_FAULTS=full), a seeded PRNG, the agent as a process of its own (to SIGKILL it), creating
// many runs, and the end-state checks every scenario ends with: one terminal status per run at
// the server, at most one Job per run, nothing of a finished run left, the agent healthy.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { pino, type Logger } from 'pino';
import { stringify } from 'yaml';
import type { Config } from '../../agent/config.js';
import { AGENT_PRIVATE_FOLDER, LabelKey } from '../../agent/kube/names.js';
import { agentPrivateRoot } from '../../agent/kube/paths.js';
import type { UserClient } from '../dev-server/user-client.js';
import type { World } from '../support/world.js';
import { freePort } from '../support/ports.js';
import { createTask, finalPatches, nodeObjects, waitFor, type TaskInput, type TaskOptions } from '../agent/run-helpers.js';

/** The whole suite (`npm run test:faults`) or the slice `npm test` runs. */
export const FULL = process.env.V6_FAULTS === 'full';

export function scale<T>(slice: T, full: T): T {
  return FULL ? full : slice;
}

/** The seed of every scenario's randomness; V6_FAULTS_SEED replays another sequence. */
export const SEED = Number(process.env.V6_FAULTS_SEED ?? 20_240_611);

/** mulberry32: small, seeded, enough to make a fault sequence reproducible. */
export function prng(seed: number): { next(): number; between(min: number, max: number): number; pick<T>(items: readonly T[]): T } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    between: (min, max) => min + (max - min) * next(),
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Where the agents' logs of a fault run are kept (they outlive the world): V6_FAULTS_LOGS or /tmp/v6-faults. */
export const LOG_DIR = process.env.V6_FAULTS_LOGS ?? '/tmp/v6-faults';

/** An in-process agent's logger: debug records to `<LOG_DIR>/<name>-<test pid>.log`. */
export function fileLogger(name: string): Logger {
  mkdirSync(LOG_DIR, { recursive: true });
  return pino({ level: 'debug' }, pino.destination({ dest: join(LOG_DIR, `${name}-${process.pid}.log`), sync: false }));
}

/** A config the agent and the proxy commands read: the world's, with ports of their own. */
export async function writeConfigFile(world: World, config: Config, name: string): Promise<string> {
  const path = join(world.root, `${name}.yaml`);
  await writeFile(path, stringify(config));
  return path;
}

/** A config for `nodeId` whose metrics port is free (agents in parallel test files must not collide). */
export async function faultConfig(world: World, nodeId: number, overrides: Record<string, unknown> = {}): Promise<Config> {
  return world.config(nodeId, { metrics: { port: await freePort() }, ...overrides });
}

/** What an agent or proxy of a test may allocate (RLIMIT_DATA): ten times what they need. */
const MEMORY_LIMIT_BYTES = 4 * 1024 ** 3;

export interface CommandOptions {
  /** Run as this user and group, with no supplementary groups (as a pod's runAsUser/runAsGroup). */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** Added to the test process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Instead of the world's (which only root may read). */
  readonly kubeconfigPath?: string;
}

/**
 * `v6-node <command> --config <file>` as its own process, run through tsx from the sources
 * (no build needed), its log appended to `<LOG_DIR>/<name>-<test pid>.log`.
 */
export class CommandProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(world: World, command: 'start' | 'proxy', configPath: string, logName: string, options: CommandOptions = {}) {
    mkdirSync(LOG_DIR, { recursive: true });
    const log = createWriteStream(join(LOG_DIR, `${logName}-${process.pid}.log`), { flags: 'a' });
    // Killed with the test process whatever ends it (a timeout skips the after hooks), and kept
    // from taking the machine's memory should a defect make it read without bound.
    const user = options.user === undefined ? [] : [`--reuid=${options.user.uid}`, `--regid=${options.user.gid}`, '--clear-groups'];
    const node = [process.execPath, '--import', 'tsx', 'agent/cli.ts', command, '--config', configPath];
    this.child = spawn('setpriv', ['--pdeathsig', 'KILL', ...user, '--', 'prlimit', `--data=${MEMORY_LIMIT_BYTES}`, '--', ...node], {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG: options.kubeconfigPath ?? world.cluster.kubeconfigPath, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.pipe(log, { end: false });
    this.child.stderr!.pipe(log, { end: false });
    // 'close', not 'exit': once the process is gone and its stdout and stderr are read to the end,
    // so a test sees every line it wrote (a config error's message arrives after 'exit').
    this.exited = new Promise((resolve) => this.child.once('close', (code, signal) => resolve({ code, signal })));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.alive) this.child.kill(signal);
    await this.exited;
  }
}

/** Creates `count` tasks for one organization, each with its expected terminal status. */
export async function createRuns(
  world: World,
  researcher: UserClient,
  organizationId: number,
  specs: ReadonlyArray<{ input: TaskInput & TaskOptions; expect: string }>,
  expected: Map<number, string>,
): Promise<number[]> {
  const runIds: number[] = [];
  for (const spec of specs) {
    const task = await createTask(researcher, { organizationId, ...spec.input });
    const run = world.server.state.runsOfTask(task.id).find((r) => r.organization_id === organizationId)!;
    expected.set(run.id, spec.expect);
    runIds.push(run.id);
  }
  return runIds;
}

/** A random short run: mostly completed, some crashed. */
export function randomRun(random: ReturnType<typeof prng>, maxSeconds = 2): { input: TaskInput; expect: string } {
  const draw = random.next();
  if (draw < 0.15) return { input: { method: 'crash', kwargs: { code: 3 } }, expect: 'crashed' };
  if (draw < 0.4) return { input: { method: 'echo', kwargs: { n: Math.floor(draw * 1000) } }, expect: 'completed' };
  return { input: { method: 'sleep', kwargs: { seconds: Math.round(random.between(0, maxSeconds) * 10) / 10 } }, expect: 'completed' };
}

/** Waits until every run is finished at the server; resolves with when the last one finished (ms since epoch). */
export async function waitAllFinished(world: World, runIds: readonly number[], timeoutMs: number): Promise<number> {
  await waitFor(
    `${runIds.length} runs finished at the server`,
    () => runIds.every((id) => world.server.state.runs.get(id)?.finished_at != null),
    timeoutMs,
  ).catch(() => undefined);
  return Date.now();
}

export interface Figures {
  readonly scenario: string;
  readonly runs: number;
  /** Runs with no terminal status at the server. */
  readonly lost: number;
  /** Runs with more than one Job created, or more than one accepted final PATCH. */
  readonly duplicated: number;
  /** Runs whose terminal status is not the expected one. */
  readonly wrongStatus: number;
  /** From the end of the fault to the last run finished at the server, in seconds. */
  readonly recoverSeconds: number;
  readonly [extra: string]: string | number;
}

/** Logs a scenario's figures (ava shows them with --verbose) and keeps them for the summary line. */
export function report(t: ExecutionContext, figures: Figures): void {
  const line = Object.entries(figures)
    .map(([key, value]) => `${key}=${typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(1) : value}`)
    .join(' ');
  t.log(line);
  console.log(`[faults] ${line}`);
}

/** Counts ADDED Job events per run id from now on: the duplicate-Job check reads it. */
export function countJobsCreated(world: World): Map<number, number> {
  const created = new Map<number, number>();
  world.cluster.store.on((event) => {
    if (event.type !== 'ADDED' || event.plural !== 'jobs') return;
    const runId = Number(event.object.metadata.labels?.[LabelKey.RunId]);
    created.set(runId, (created.get(runId) ?? 0) + 1);
  });
  return created;
}

export interface EndState {
  lost: number[];
  duplicated: number[];
  wrongStatus: Array<{ runId: number; expected: string; actual: string; log: string | null }>;
  /** Final PATCHes the server refused (re-sent after a lost answer): not a second status, but counted. */
  resent: number;
}

/** Reads the end state of every run from the server and the cluster's Job creations. */
export function endState(world: World, expected: ReadonlyMap<number, string>, jobsCreated: ReadonlyMap<number, number>): EndState {
  const state: EndState = { lost: [], duplicated: [], wrongStatus: [], resent: 0 };
  for (const [runId, status] of expected) {
    const run = world.server.state.runs.get(runId);
    const finals = finalPatches(world, runId);
    const accepted = finals.filter((p) => p.status >= 200 && p.status < 300);
    state.resent += finals.length - accepted.length;
    const killedAtServer = run?.status === 'killed by user' && accepted.length === 0;
    if (!run || run.finished_at === null || (accepted.length === 0 && !killedAtServer)) state.lost.push(runId);
    if (accepted.length > 1 || (jobsCreated.get(runId) ?? 0) > 1) state.duplicated.push(runId);
    if (run && run.finished_at !== null && run.status !== status) {
      state.wrongStatus.push({ runId, expected: status, actual: run.status, log: run.log });
    }
  }
  return state;
}

/**
 * The checks every scenario ends with: each run exactly one terminal status at the server, at
 * most one Job ever per run, no Job, Secret or run folder of the node left.
 */
export async function assertEndState(t: ExecutionContext, world: World, config: Config, nodeId: number, state: EndState): Promise<void> {
  for (const runId of state.lost) t.log(`lost run ${runId}: ${JSON.stringify(world.server.state.runs.get(runId))}`);
  t.deepEqual(state.lost, [], 'runs without a terminal status at the server');
  t.deepEqual(state.duplicated, [], 'runs with a second Job or a second accepted final status');
  t.deepEqual(state.wrongStatus, [], 'runs with another status than expected');
  let remaining: { objects: Awaited<ReturnType<typeof nodeObjects>>; folders: string[] } | undefined;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const objects = await runObjectsOf(world, nodeId);
    const folders = await runFolders(config);
    remaining = { objects, folders };
    if (objects.jobs.length + objects.secrets.length + folders.length === 0) break;
    await sleep(200);
  }
  t.deepEqual(remaining?.objects.jobs.map((j) => j.metadata?.name) ?? [], [], 'Jobs left in the cluster');
  t.deepEqual(remaining?.objects.secrets.map((s) => s.metadata?.name) ?? [], [], 'Secrets left in the cluster');
  t.deepEqual(remaining?.folders ?? [], [], 'run folders left on the task volume');
}

/** The node's run Jobs and Secrets (not the agent's own objects, such as its isolation probe). */
async function runObjectsOf(world: World, nodeId: number): Promise<Awaited<ReturnType<typeof nodeObjects>>> {
  const objects = await nodeObjects(world, nodeId);
  const ofRun = (o: { metadata?: { labels?: Record<string, string> } }): boolean => o.metadata?.labels?.[LabelKey.RunId] !== undefined;
  return { jobs: objects.jobs.filter(ofRun), secrets: objects.secrets.filter(ofRun) };
}

/** The run folders on the node's task volume, and the agent's own folders of runs. */
export async function runFolders(config: Config): Promise<string[]> {
  const root = config.kubernetes.task_volume.mount_path;
  const own = await readdir(agentPrivateRoot(root)).catch(() => []);
  return [...(await readdir(root)), ...own.map((entry) => `${AGENT_PRIVATE_FOLDER}/${entry}`)].filter((entry) => /(^|\/)task-\d+$/.test(entry));
}

/** The agent is healthy: a new run after the faults completes, once, promptly. */
export async function assertHealthy(t: ExecutionContext, world: World, researcher: UserClient, organizationId: number): Promise<void> {
  const expected = new Map<number, string>();
  const [runId] = await createRuns(world, researcher, organizationId, [{ input: { method: 'echo', kwargs: { probe: true } }, expect: 'completed' }], expected);
  await waitAllFinished(world, [runId!], 30_000);
  const run = world.server.state.runs.get(runId!);
  t.is(run?.status, 'completed', `a probe run after the faults: ${run?.status} ${run?.log ?? ''}`);
  t.is(finalPatches(world, runId!).length, 1, 'the probe run reported once');
}
