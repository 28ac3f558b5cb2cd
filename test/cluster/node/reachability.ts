// Reachability measured with real connections from inside a pod, and the same computed from the
// NetworkPolicies the cluster holds (the chart's, as installed) by the evaluator the chart tests
// use, so the two can be set side by side. Plus "the internet": a listener in a network namespace
// of its own, routed from the host like any address outside the cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { reachability, type Endpoint, type Namespace, type Port } from '../../helm/network-policy.js';
import { run, tryRun } from '../lib/exec.js';
import { kubectl } from '../smoke/kube.js';

export interface Target {
  /** The endpoint's name in the computed matrix (a Service's ClusterIP counts as its pods). */
  endpoint: string;
  host: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  /** The port the policies see, when a Service translates it (ClusterIP 443 → the API's 6443). */
  policyPort?: number;
}

/**
 * Runs in the probing pod (node): a TCP connect, or for UDP a DNS query that must be answered, per
 * target, all at once, each within 3 s. Prints `{"<host>:<port>/<protocol>": true|false}`.
 */
const PROBE = `
const net = require('net'), dgram = require('dgram');
const targets = JSON.parse(process.argv[1]);
const tcp = (t) => new Promise((done) => {
  const s = net.connect(t.port, t.host); s.setTimeout(3000);
  s.on('connect', () => { s.destroy(); done(true); }); s.on('timeout', () => { s.destroy(); done(false); }); s.on('error', () => done(false));
});
const udp = (t) => new Promise((done) => {
  const s = dgram.createSocket('udp4');
  const q = Buffer.from('00010100000100000000000006676f6f676c6503636f6d0000010001', 'hex');
  const timer = setTimeout(() => { s.close(); done(false); }, 3000);
  s.on('message', () => { clearTimeout(timer); s.close(); done(true); }); s.on('error', () => { clearTimeout(timer); done(false); });
  s.send(q, t.port, t.host);
});
Promise.all(targets.map((t) => (t.protocol === 'UDP' ? udp(t) : tcp(t)))).then((r) => {
  console.log(JSON.stringify(Object.fromEntries(targets.map((t, i) => [t.host + ':' + t.port + '/' + t.protocol, r[i]]))));
});`;

export const targetKey = (t: Target) => `${t.host}:${t.port}/${t.protocol}`;

/** Which targets the pod reaches, measured from inside it (`kubectl exec … node -e`). */
export async function measureFrom(namespace: string, pod: string, targets: readonly Target[]): Promise<Record<string, boolean>> {
  const out = await kubectl(['exec', '-n', namespace, pod, '--', 'node', '-e', PROBE, JSON.stringify(targets)]);
  return JSON.parse(out) as Record<string, boolean>;
}

/** What the NetworkPolicies in the cluster allow `source` to reach, per target (the evaluator's verdict). */
export async function computeFor(source: string, endpoints: readonly Endpoint[], targets: readonly Target[]): Promise<Record<string, boolean>> {
  const policies = (JSON.parse(await kubectl(['get', 'networkpolicies', '-A', '-o', 'json'])) as { items: V1NetworkPolicy[] }).items;
  const namespaces = (JSON.parse(await kubectl(['get', 'namespaces', '-o', 'json'])) as { items: { metadata: { name: string; labels?: Record<string, string> } }[] }).items.map(
    (n): Namespace => ({ name: n.metadata.name, labels: n.metadata.labels ?? {} }),
  );
  const seen = (t: Target): Port => ({ port: t.policyPort ?? t.port, protocol: t.protocol });
  const withPorts = endpoints.map((e) => ({ ...e, ports: targets.filter((t) => t.endpoint === e.name).map(seen) }));
  const row = reachability(policies, withPorts, namespaces)[source] ?? {};
  return Object.fromEntries(targets.map((t) => [targetKey(t), (row[t.endpoint] ?? []).includes(`${seen(t).port}/${t.protocol}`)]));
}

/** A pod as the evaluator sees it: its IP, namespace and labels, from the cluster. */
export async function podEndpoint(name: string, namespace: string, pod: string): Promise<Endpoint> {
  const json = JSON.parse(await kubectl(['get', 'pod', '-n', namespace, pod, '-o', 'json'])) as { metadata: { labels?: Record<string, string> }; status: { podIP: string } };
  return { name, ip: json.status.podIP, pod: { namespace, labels: json.metadata.labels ?? {} }, ports: [] };
}

export interface Internet {
  readonly ip: string;
  readonly port: number;
  close(): Promise<void>;
}

const INTERNET_NETNS = 'v6-internet';
/** TEST-NET-2 (RFC 5737): never a real host. */
const INTERNET_HOST_SIDE = '198.51.100.1';
const INTERNET_IP = '198.51.100.10';

/**
 * A TCP listener at 198.51.100.10:80 (run by `nodeBinary`, the Node executable) in the network
 * namespace `v6-internet`, joined to the host by a veth pair: pods reach it as they reach any
 * address outside the cluster, through the host.
 */
export async function startInternet(nodeBinary: string): Promise<Internet> {
  await tryRun('ip', ['netns', 'delete', INTERNET_NETNS]);
  await tryRun('ip', ['link', 'delete', 'v6inet-host']);
  await run('ip', ['netns', 'add', INTERNET_NETNS]);
  await run('ip', ['link', 'add', 'v6inet-host', 'type', 'veth', 'peer', 'name', 'v6inet-ns']);
  await run('ip', ['link', 'set', 'v6inet-ns', 'netns', INTERNET_NETNS]);
  await run('ip', ['addr', 'add', `${INTERNET_HOST_SIDE}/24`, 'dev', 'v6inet-host']);
  await run('ip', ['link', 'set', 'v6inet-host', 'up']);
  const inNs = (...args: string[]) => run('ip', ['netns', 'exec', INTERNET_NETNS, ...args]);
  await inNs('ip', 'addr', 'add', `${INTERNET_IP}/24`, 'dev', 'v6inet-ns');
  await inNs('ip', 'link', 'set', 'v6inet-ns', 'up');
  await inNs('ip', 'link', 'set', 'lo', 'up');
  await inNs('ip', 'route', 'add', 'default', 'via', INTERNET_HOST_SIDE);
  const listener: ChildProcess = spawn('ip', ['netns', 'exec', INTERNET_NETNS, nodeBinary, '-e', "require('net').createServer((s) => s.end('internet\\n')).listen(80)"], { stdio: 'ignore' });
  const killOnExit = () => listener.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    ip: INTERNET_IP,
    port: 80,
    close: async () => {
      process.off('exit', killOnExit);
      listener.kill('SIGKILL');
      await tryRun('ip', ['netns', 'delete', INTERNET_NETNS]);
      await tryRun('ip', ['link', 'delete', 'v6inet-host']);
    },
  };
}

/** A pod labelled and hardened like an algorithm pod of the site (the product image has node). */
export function algorithmLikePod(name: string, image: string, labels: Record<string, string>): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: {
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      imagePullSecrets: [{ name: 'registry' }],
      securityContext: { runAsNonRoot: true, runAsUser: 10000, runAsGroup: 10000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'probe',
          image,
          command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true },
        },
      ],
    },
  };
}

