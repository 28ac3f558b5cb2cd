// The isolation probe in the simulated cluster. Its pods share the host network, so a forbidden
// destination listening on 127.0.0.1 is reachable (the cluster does not enforce the policies)
// and one whose port is closed refuses the probe (as an enforcing cluster would).
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { pino, type Logger } from 'pino';
import type { Config } from '../../agent/config.js';
import { IsolationMonitor } from '../../agent/isolation/monitor.js';
import { IsolationProbe } from '../../agent/isolation/probe.js';
import { PROBE_LABEL } from '../../agent/isolation/probe-spec.js';
import { LabelKey } from '../../agent/kube/names.js';
import type { NodeAgent } from '../../agent/node-agent.js';
import { RunStatus } from '../../agent/protocol/run-status.js';
import { PROBE_IMAGE, startWorld, type World } from '../support/world.js';
import { createTask, nodeObjects, recordJobsCreated, researcherOf, serverRun, startAgent, waitFor, waitForRunStatus } from './run-helpers.js';

let world: World;
const NODE = 1; // organization 1 in collaboration 1
const ORG = 1;

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  await world?.close();
});

/** A TCP server on 127.0.0.1 that accepts and closes connections; `port` stays valid after close. */
async function listener(): Promise<{ port: number; server: Server; close: () => Promise<void> }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { port, server, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const { port, close } = await listener();
  await close();
  return port;
}

/** A logger that keeps every line, for tests that wait for a log. */
function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

function isolation(overrides: Record<string, unknown>) {
  return { image: PROBE_IMAGE, timeout_seconds: 1, proxy_wait_seconds: 1, allow_unenforced: false, ...overrides };
}

function nodeInfoAtServer(): Record<string, unknown> | undefined {
  return (world.server.state.presence.get(NODE)?.info ?? undefined) as Record<string, unknown> | undefined;
}

async function withAgent<T>(config: Parameters<typeof startAgent>[1], logger: Logger | undefined, fn: (agent: NodeAgent) => Promise<T>): Promise<T> {
  const agent = await startAgent(world, config, logger);
  try {
    return await fn(agent);
  } finally {
    await agent.close();
  }
}

test.serial('not enforced and not allowed: a run stays queued without a Job; once the verdict is enforced it runs', async (t) => {
  const proxy = await listener();
  const forbidden = await listener();
  const jobsCreated = recordJobsCreated(world);
  const { logger, lines } = recordingLogger();
  const config = world.config(NODE, {
    queue: { prefix: 'isolation-hold', concurrency: 2 },
    proxy: { url: 'http://127.0.0.1', port: proxy.port },
    isolation: isolation({ forbidden_url: `tcp://127.0.0.1:${forbidden.port}`, retry_seconds: 1 }),
  });
  try {
    await withAgent(config, logger, async (agent) => {
      await waitFor('the not-enforced verdict', () => agent.isolation.verdict() === 'not-enforced');
      t.regex(agent.isolation.status().reason, new RegExp(`reached 127\\.0\\.0\\.1:${forbidden.port}`));
      t.false(agent.isolation.allowsLaunches());
      await waitFor('node_info_update with the verdict', () => nodeInfoAtServer()?.network_isolation === 'not-enforced');

      const researcher = await researcherOf(world);
      const task = await createTask(researcher, { method: 'echo', organizationId: ORG, name: 'held' });
      const runId = await waitFor('the run at the server', () => serverRun(world, task.id, ORG)?.id);
      const refusal = await waitFor('the refusal log for the run', () => lines.find((l) => l.runId === runId && l.level === 50));
      t.regex(String(refusal.msg), /refusing to run tasks/);
      t.is(refusal.verdict, 'not-enforced');
      t.is(serverRun(world, task.id, ORG)?.status, RunStatus.Pending, 'the run is still pending at the server');
      t.false(jobsCreated.includes(runId), 'no Job for the held run');
      t.deepEqual((await nodeObjects(world, NODE)).jobs.filter((j) => j.metadata?.labels?.['vantage6.ai/run-id'] !== undefined), []);

      // The cluster starts enforcing: the forbidden destination no longer answers.
      await forbidden.close();
      await waitFor('the enforced verdict', () => agent.isolation.verdict() === 'enforced');
      await waitFor('node_info_update with enforced', () => nodeInfoAtServer()?.network_isolation === 'enforced');
      const run = await waitForRunStatus(world, task.id, ORG, RunStatus.Completed);
      t.true(jobsCreated.includes(run.id));
    });
  } finally {
    await proxy.close();
    if (forbidden.server.listening) await forbidden.close();
  }
  await waitFor('the probe Jobs removed', async () => (await nodeObjects(world, NODE)).jobs.length === 0);
});

test.serial('allowed: with isolation.allow_unenforced the run goes, the verdict is reported and a warning logged', async (t) => {
  const { logger, lines } = recordingLogger();
  // The world's default: forbidden_url unset, so the probe tries the (simulated) Kubernetes API.
  const config = world.config(NODE, { queue: { prefix: 'isolation-allowed', concurrency: 2 } });
  await withAgent(config, logger, async (agent) => {
    await waitFor('a verdict', () => agent.isolation.verdict() === 'not-enforced');
    t.true(agent.isolation.allowsLaunches());
    t.truthy(lines.find((l) => l.level === 40 && /running tasks anyway/.test(String(l.msg))));
    await waitFor('node_info_update with the verdict', () => nodeInfoAtServer()?.network_isolation === 'not-enforced');
    const researcher = await researcherOf(world);
    const task = await createTask(researcher, { method: 'echo', organizationId: ORG, name: 'allowed' });
    await waitForRunStatus(world, task.id, ORG, RunStatus.Completed);
    t.pass();
  });
});

test.serial('a closed forbidden port and a reachable proxy: enforced, from one probe pod with no action, as a 4.x run has none', async (t) => {
  const proxy = await listener();
  const probePods = recordProbePods(t);
  const config = world.config(NODE, {
    queue: { prefix: 'isolation-enforced' },
    proxy: { url: 'http://127.0.0.1', port: proxy.port },
    isolation: isolation({ forbidden_url: `tcp://127.0.0.1:${await closedPort()}` }),
  });
  try {
    await withAgent(config, undefined, async (agent) => {
      await waitFor('a verdict', () => agent.isolation.status().at !== undefined);
      t.is(agent.isolation.verdict(), 'enforced');
      t.true(agent.isolation.allowsLaunches());
      t.deepEqual(probePods, ['none']);
    });
  } finally {
    await proxy.close();
  }
});

test.serial('neither the forbidden destination nor the proxy answers: proxy-unreachable, launches held', async (t) => {
  const config = world.config(NODE, {
    queue: { prefix: 'isolation-no-proxy' },
    proxy: { url: 'http://127.0.0.1', port: await closedPort() },
    isolation: isolation({ forbidden_url: `tcp://127.0.0.1:${await closedPort()}` }),
  });
  await withAgent(config, undefined, async (agent) => {
    await waitFor('a verdict', () => agent.isolation.status().at !== undefined);
    t.is(agent.isolation.verdict(), 'proxy-unreachable');
    t.false(agent.isolation.allowsLaunches());
  });
});

test.serial('a probe image that does not exist: unknown, saying why, and the probe Job is removed', async (t) => {
  const config = world.config(NODE, {
    queue: { prefix: 'isolation-no-image' },
    isolation: isolation({ image: 'v6-test/no-such-agent:1' }),
  });
  await withAgent(config, undefined, async (agent) => {
    await waitFor('a verdict', () => agent.isolation.status().at !== undefined);
    t.is(agent.isolation.verdict(), 'unknown');
    t.regex(agent.isolation.status().reason, /probe image v6-test\/no-such-agent:1 cannot be pulled \(ErrImagePull\)/);
    t.false(agent.isolation.allowsLaunches());
    await waitFor('node_info_update with unknown', () => nodeInfoAtServer()?.network_isolation === 'unknown');
  });
  await waitFor('the probe Job removed', async () => (await nodeObjects(world, NODE)).jobs.length === 0);
  t.deepEqual((await nodeObjects(world, NODE)).jobs, []);
});

/** The world's config for NODE as a vantage6 5 node's (hq_url, name and Keycloak instead of server_url). */
function v5Config(overrides: Record<string, unknown>): Config {
  return world.config(NODE, { server_url: undefined, hq_url: 'http://127.0.0.1', name: 'site-a', keycloak: { url: 'http://127.0.0.1:8080' }, ...overrides });
}

/** The vantage6.ai/action label of each probe pod the cluster creates during the test, in order ('none' for a 4.x probe's). */
function recordProbePods(t: ExecutionContext): string[] {
  const actions: string[] = [];
  const stop = world.cluster.store.on((event) => {
    const labels = event.object.metadata.labels;
    if (event.type === 'ADDED' && event.plural === 'pods' && labels?.[PROBE_LABEL] === 'true') actions.push(labels[LabelKey.Action] ?? 'none');
  });
  t.teardown(() => void stop());
  return actions;
}

/** One probe of `config` through the monitor, as the agent runs it; resolves its status. */
async function probeOnce(config: Config, logger: Logger) {
  const probe = new IsolationProbe({ kubeConfig: world.kubeConfig, nodeId: NODE, config, proxyAddress: { url: async () => config.proxy.url }, logger });
  const monitor = new IsolationMonitor({ config: config.isolation, probe: (signal) => probe.run(signal), logger });
  try {
    await monitor.probeNow();
    return monitor.status();
  } finally {
    await monitor.close();
  }
}

test.serial('a vantage6 5 node probes also as a data_extraction run, which must reach nothing: here it reaches the proxy, so not enforced, naming the action', async (t) => {
  const proxy = await listener();
  const probePods = recordProbePods(t);
  const { logger, lines } = recordingLogger();
  const config = v5Config({
    proxy: { url: 'http://127.0.0.1', port: proxy.port },
    isolation: isolation({ forbidden_url: `tcp://127.0.0.1:${await closedPort()}` }),
  });
  try {
    const status = await probeOnce(config, logger);
    t.is(status.verdict, 'not-enforced');
    t.regex(status.reason, new RegExp(`^the probe pod labelled as a data_extraction run did not reach .* but did reach the proxy at 127\\.0\\.0\\.1:${proxy.port}`));
    t.false(status.allowsLaunches);
    const verdictLog = lines.find((l) => l.level === 50 && /NOT confirmed/.test(String(l.msg)));
    t.like(verdictLog, { verdict: 'not-enforced', action: 'data_extraction' });
    t.deepEqual(probePods, ['federated_compute', 'data_extraction'], 'the compute probe first, which reached the proxy');
    t.deepEqual(
      lines.filter((l) => l.msg === 'Created Job').map((l) => [l.job, l.action]),
      [
        [`v6-node-${NODE}-isolation-probe-federated-compute`, 'federated_compute'],
        [`v6-node-${NODE}-isolation-probe-data-extraction`, 'data_extraction'],
      ],
    );
  } finally {
    await proxy.close();
  }
  await waitFor('the probe Jobs removed', async () => (await nodeObjects(world, NODE)).jobs.length === 0);
});

test.serial('a vantage6 5 node whose compute probe is not enforced does not go on to the data_extraction probe', async (t) => {
  const proxy = await listener();
  const forbidden = await listener();
  const probePods = recordProbePods(t);
  const { logger, lines } = recordingLogger();
  const config = v5Config({
    proxy: { url: 'http://127.0.0.1', port: proxy.port },
    isolation: isolation({ forbidden_url: `tcp://127.0.0.1:${forbidden.port}` }),
  });
  try {
    const status = await probeOnce(config, logger);
    t.is(status.verdict, 'not-enforced');
    t.regex(status.reason, new RegExp(`^the probe pod labelled as a federated_compute run reached 127\\.0\\.0\\.1:${forbidden.port}`));
    t.like(lines.find((l) => l.level === 50 && /NOT confirmed/.test(String(l.msg))), { action: 'federated_compute' });
    t.deepEqual(probePods, ['federated_compute']);
  } finally {
    await proxy.close();
    await forbidden.close();
  }
  await waitFor('the probe Job removed', async () => (await nodeObjects(world, NODE)).jobs.length === 0);
});
