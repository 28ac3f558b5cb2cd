import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import test from 'ava';
import { stringify } from 'yaml';
import { parseConfig } from '../config.js';
import { GATE_CONTAINER, GATE_EXIT_NOT_ISOLATED, gateContainer, isolationGateFor, type IsolationGate } from './gate.js';

const API_SERVER = 'https://10.43.0.1:443';

function config(isolation: Record<string, unknown>) {
  return parseConfig(
    stringify({
      api_key: '123e4567-e89b-42d3-a456-426614174000',
      server_url: 'https://v6.example.org',
      kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' } },
      proxy: { url: 'http://v6-node.vantage6.svc.cluster.local' },
      isolation: { image: 'v6-node:0.1.0', ...isolation },
    }),
    {},
  ).config;
}

test('every run gets the gate while the probe runs and isolation is required; it tests what the probe must not reach', (t) => {
  t.deepEqual(isolationGateFor(config({ image_pull_secrets: ['node-registry'] }), API_SERVER), {
    image: 'v6-node:0.1.0',
    forbidden: { host: '10.43.0.1', port: 443 },
    imagePullSecrets: ['node-registry'],
  });
  t.deepEqual(isolationGateFor(config({ forbidden_url: 'tcp://203.0.113.10:5000' }), API_SERVER)?.forbidden, { host: '203.0.113.10', port: 5000 });
  t.is(isolationGateFor(config({ probe: false }), API_SERVER), undefined, 'isolation not verified: no gate');
  t.is(isolationGateFor(config({ gate: false }), API_SERVER), undefined, 'the admin turned it off');
  t.is(isolationGateFor(config({ allow_unenforced: true }), API_SERVER), undefined, 'runs allowed without isolation: a gate would hold them all on a cluster without policies');
  t.is(isolationGateFor(config({}), undefined), undefined, 'nothing to test against');
});

test('the gate container: hardened, the agent image, nothing of the run', (t) => {
  const container = gateContainer(isolationGateFor(config({}), API_SERVER)!);
  t.is(container.name, GATE_CONTAINER);
  t.is(container.image, 'v6-node:0.1.0');
  t.like(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
  t.is(container.volumeMounts, undefined);
  t.false((container.env ?? []).some((e) => e.valueFrom !== undefined), 'no value from the run Secret');
  t.is(container.terminationMessagePolicy, 'FallbackToLogsOnError', 'its sentence becomes the termination message');
});

/** Runs the container's command as the pod would (node -e, its env), with a shorter wait. */
function runGate(gate: IsolationGate, waitMs: number): Promise<{ code: number; stdout: string }> {
  const container = gateContainer(gate);
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.name === 'V6_GATE_WAIT_MS' ? String(waitMs) : e.value!]));
  return new Promise((resolve) => {
    execFile(process.execPath, container.command!.slice(1), { env }, (error, stdout) => resolve({ code: error === null ? 0 : Number(error.code), stdout }));
  });
}

async function listening(): Promise<{ server: Server; port: number; accepted: () => number }> {
  let accepted = 0;
  const server = createServer((socket: Socket) => {
    accepted += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, accepted: () => accepted };
}

const gateTo = (port: number): IsolationGate => ({ image: 'v6-node:0.1.0', forbidden: { host: '127.0.0.1', port }, imagePullSecrets: [] });

test('a destination that still accepts connections holds the algorithm back, then fails the pod with a sentence that says why', async (t) => {
  const { server, port, accepted } = await listening();
  try {
    const { code, stdout } = await runGate(gateTo(port), 600);
    t.is(code, GATE_EXIT_NOT_ISOLATED);
    t.regex(stdout.trim(), new RegExp(`^the pod still reached 127\\.0\\.0\\.1:${port} \\d+ s after it started: its NetworkPolicies are not in effect, so the algorithm was not started$`));
    t.true(accepted() > 1, `it kept trying (${accepted()} connections)`);
  } finally {
    server.close();
  }
});

test('a refused destination lets the algorithm start', async (t) => {
  const { server, port } = await listening();
  await new Promise((resolve) => server.close(resolve));
  const { code, stdout } = await runGate(gateTo(port), 10_000);
  t.is(code, 0);
  t.like(JSON.parse(stdout) as object, { forbidden: 'ECONNREFUSED' });
});

test('the policies coming into effect while the gate waits: it lets the algorithm start then', async (t) => {
  const { server, port, accepted } = await listening();
  // The "policies" arrive once the gate has been let through twice.
  server.on('connection', () => {
    if (accepted() >= 2) server.close();
  });
  const { code, stdout } = await runGate(gateTo(port), 30_000);
  t.is(code, 0);
  t.like(JSON.parse(stdout) as object, { forbidden: 'ECONNREFUSED' });
  t.true(accepted() >= 2);
});
