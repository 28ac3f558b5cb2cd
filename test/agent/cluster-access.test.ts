// What the agent may do in its namespace, asked of the API server (SelfSubjectAccessReview and a
// dry-run create): at start and in /readyz, naming what is missing (issue 12, item 5).
import { Writable } from 'node:stream';
import test from 'ava';
import { pino, type Logger } from 'pino';
import { serveAgent } from '../../agent/serve.js';
import { startWorld, type World } from '../support/world.js';
import { TIMINGS, waitFor } from './run-helpers.js';

const NODE = 1;

let world: World;

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  await world?.close();
});

async function readyz(url: string): Promise<{ status: number; body: { failing: string[]; checks: Record<string, boolean>; problems?: string[] } }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as never };
}

function logSink(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines: () => lines };
}

test.serial('a missing namespace and a missing permission are named at start and in /readyz, which turns ready once they are fixed', async (t) => {
  world.cluster.access.deny({ verb: 'delete', resource: 'jobs' });
  t.teardown(() => world.cluster.access.reset());
  const config = world.config(NODE, { kubernetes: { ...world.config(NODE).kubernetes, namespace: 'not-created-yet' } });
  const { logger, lines } = logSink();
  const served = await serveAgent({ config, logger, kubeConfig: world.kubeConfig, timings: TIMINGS, metricsPort: 0, metricsHost: '127.0.0.1', defaultMetrics: false });
  t.teardown(() => served.close());

  const atStart = lines().find((line) => line.code === 'V6_KUBE_ACCESS_MISSING');
  t.truthy(atStart, 'logged at start');
  t.deepEqual(atStart!.missing, [
    'namespace not-created-yet does not exist (create it, or set kubernetes.namespace)',
    "may not delete batch/jobs in namespace not-created-yet (grant it in the agent's Role)",
  ]);

  // Once the socket is up, only the access check fails.
  const unready = await waitFor('only clusterAccess failing', async () => {
    const answer = await readyz(served.health.url);
    return answer.body.failing.join() === 'clusterAccess' && answer;
  });
  t.is(unready.status, 503);
  t.deepEqual(unready.body.problems, atStart!.missing);

  world.cluster.access.reset();
  await world.cluster.store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'not-created-yet' } });
  const ready = await waitFor('ready', async () => {
    const answer = await readyz(served.health.url);
    return answer.status === 200 && answer;
  });
  t.true(ready.body.checks.clusterAccess);
  t.is(ready.body.problems, undefined);
});
