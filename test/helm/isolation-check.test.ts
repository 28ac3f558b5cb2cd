// The isolation check the README and the chart's NOTES tell the admin to run by hand: the pod
// `kubectl run` makes of it passes Pod Security "restricted" (the namespace label the README
// recommends), carries the labels the algorithm NetworkPolicy selects, and its script tells a
// reachable API server from a blocked one.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type { V1NetworkPolicy, V1PodSpec } from '@kubernetes/client-node';
import { freePort } from '../support/ports.js';
import { matchesSelector } from './network-policy.js';
import { restrictedViolations } from './pod-security.js';
import { CHART_DIR, NAMESPACE, RELEASE, helm, render } from './render.js';

const run = promisify(execFile);

interface Check {
  labels: Record<string, string>;
  spec: V1PodSpec;
  script: string;
}

/** The pod `kubectl run isolation-check …` creates: its flags, with --overrides merged by container name. */
function parseCheck(text: string): Check {
  const command = /kubectl -n \S+ run isolation-check(?:[^\n]*\\\n)*[^\n]*/.exec(text)?.[0].replace(/\\\n\s*/g, ' ');
  if (command === undefined) throw new Error('no isolation-check command in the text');
  const flag = (name: string): string => {
    const value = new RegExp(`--${name}=('([^']*)'|(\\S+))`).exec(command);
    if (!value) throw new Error(`the command has no --${name}`);
    return value[2] ?? value[3]!;
  };
  const script = /--command -- node -e "(.*)"$/.exec(command.trim())?.[1];
  if (script === undefined) throw new Error('the command runs no node -e script');
  const overrides = JSON.parse(flag('overrides')) as { apiVersion?: string; spec: V1PodSpec };
  if (overrides.apiVersion !== 'v1') throw new Error('kubectl run --overrides needs apiVersion');
  const generated = { name: 'isolation-check', image: flag('image'), command: ['node', '-e', script] };
  const override = overrides.spec.containers?.find((c) => c.name === generated.name);
  return {
    labels: Object.fromEntries(flag('labels').split(',').map((pair) => pair.split('=') as [string, string])),
    spec: { ...overrides.spec, restartPolicy: 'Never', containers: [{ ...generated, ...override }] },
    script,
  };
}

async function notes(): Promise<string> {
  const { stdout } = await helm(['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--dry-run=client', '--set', 'apiKey.value=123e4567-e89b-42d3-a456-426614174000']);
  return stdout.slice(stdout.indexOf('NOTES:'));
}

const sources: Array<[string, () => Promise<string>]> = [
  ['the README', () => readFile(new URL('../../README.md', import.meta.url), 'utf8')],
  ["the chart's NOTES", notes],
];

for (const [where, text] of sources) {
  test(`${where}: the isolation check is admitted under Pod Security "restricted" and is selected as an algorithm pod`, async (t) => {
    const check = parseCheck(await text());
    t.deepEqual(restrictedViolations(check.spec), []);
    const policy = (await render()).find((o) => o.kind === 'NetworkPolicy' && o.metadata.name.endsWith('-algorithms')) as unknown as V1NetworkPolicy;
    t.true(matchesSelector(policy.spec!.podSelector, check.labels), JSON.stringify(check.labels));
  });

  test(`${where}: the check's script says NOT enforced when it reaches the API server and enforced when it cannot`, async (t) => {
    const { script } = parseCheck(await text());
    const listener = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    t.teardown(() => listener.close());
    const probe = async (port: number) =>
      run(process.execPath, ['-e', script], { env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) } }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );
    const reachable = await probe((listener.address() as AddressInfo).port);
    t.deepEqual(reachable, { code: 1, stdout: 'REACHABLE: isolation is NOT enforced\n' });
    const blocked = await probe(await freePort());
    t.deepEqual(blocked, { code: 0, stdout: 'blocked: isolation enforced\n' });
  });
}
