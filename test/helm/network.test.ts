// The chart's NetworkPolicies, evaluated: who may connect to whom, asserted to be exactly the
// intended matrix. Algorithm pods carry the labels the agent's own Job builder gives them, and
// those of vantage6 5 runs their action besides.
import type { V1Deployment, V1NetworkPolicy, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import test from 'ava';
import { buildRunObjects } from '../../agent/kube/job-spec.js';
import { parseConfig, type Config } from '../../agent/config.js';
import { buildProbeJob, probeKinds } from '../../agent/isolation/probe-spec.js';
import { LabelKey } from '../../agent/kube/names.js';
import { formatMatrix, inCidr, matchesSelector, reachability, type Endpoint, type Namespace, type Port } from './network-policy.js';
import { NAMESPACE, RELEASE, render, type K8sObject } from './render.js';

const tcp = (port: number): Port => ({ port, protocol: 'TCP' });
const DNS_PORTS: Port[] = [{ port: 53, protocol: 'UDP' }, tcp(53)];
const DNS = ['53/TCP', '53/UDP'];

const NAMESPACES: Namespace[] = [
  { name: NAMESPACE, labels: { 'kubernetes.io/metadata.name': NAMESPACE } },
  { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } },
  { name: 'data', labels: { 'kubernetes.io/metadata.name': 'data' } },
];

/** The agent's config as the chart renders it. */
function chartConfig(objects: K8sObject[]): Config {
  const holder = objects.find((o) => o.metadata.name === `${RELEASE}-v6-node-config`)!;
  const data = (holder.kind === 'Secret' ? holder.stringData : holder.data) as Record<string, string>;
  return parseConfig(data['config.yaml']!, { V6_API_KEY: '123e4567-e89b-42d3-a456-426614174000', V6_KUBE_NODE_NAME: 'w' }).config;
}

function algorithmLabels(objects: K8sObject[], nodeId = 7): Record<string, string> {
  const config = chartConfig(objects);
  const { job } = buildRunObjects({
    run: { id: 1, taskId: 1, jobId: 1, parentId: null, image: 'harbor2.vantage6.ai/demo/average', databases: [] },
    node: { id: nodeId, organizationId: 1, collaborationId: 1, name: 'n' },
    token: 't',
    proxyUrl: 'http://10.43.0.12',
    isolationGate: undefined, // labels only
    config,
  });
  return job.spec!.template.metadata!.labels!;
}

/** vantage6 5 actions (label vantage6.ai/action): the offline ones may reach nothing, the others the proxy as 4.x runs do. */
const OFFLINE_ACTIONS = ['data_extraction', 'preprocessing'];
const PROXY_ACTIONS = ['federated_compute', 'central_compute', 'postprocessing'];
const ofAction = (action: string) => `algorithm(${action})`;
/** The algorithm pods of node 7 that reach the proxy: a 4.x run's (no action) and those of the compute and postprocessing actions. */
const PROXY_CALLERS = ['algorithm', ...PROXY_ACTIONS.map(ofAction)];

/** The endpoints: the chart's pods as rendered, algorithm pods as the agent builds them, the rest of the world. */
function endpoints(objects: K8sObject[]): Endpoint[] {
  const podOf = (kind: string, suffix = '') => {
    const o = objects.find((x) => x.kind === kind && x.metadata.name === `${RELEASE}-v6-node${suffix}`);
    if (o === undefined) return undefined;
    if (kind === 'Pod') return { labels: o.metadata.labels!, spec: (o as unknown as V1Pod).spec! };
    const template = (o as unknown as V1Deployment | V1StatefulSet).spec!.template;
    return { labels: template.metadata!.labels!, spec: template.spec! };
  };
  const listening = (spec: { containers: Array<{ ports?: Array<{ containerPort: number; protocol?: string }> }> }) =>
    spec.containers.flatMap((c) => (c.ports ?? []).map((p) => ({ port: p.containerPort, protocol: (p.protocol ?? 'TCP') as Port['protocol'] })));
  const node = podOf('Deployment')!;
  const redis = podOf('StatefulSet', '-redis');
  const testPod = podOf('Pod', '-test');
  const inNs = (labels: Record<string, string>) => ({ namespace: NAMESPACE, labels });
  return [
    { name: 'node', ip: '10.42.0.10', pod: inNs(node.labels), ports: listening(node.spec) },
    ...(redis ? [{ name: 'redis', ip: '10.42.0.11', pod: inNs(redis.labels), ports: listening(redis.spec) }] : []),
    { name: 'algorithm', ip: '10.42.0.12', pod: inNs(algorithmLabels(objects)), ports: [tcp(8080)] },
    { name: 'algorithm(node 8)', ip: '10.42.0.16', pod: inNs(algorithmLabels(objects, 8)), ports: [tcp(8080)] },
    ...[...OFFLINE_ACTIONS, ...PROXY_ACTIONS].map((action, i) => ({
      name: ofAction(action),
      ip: `10.42.0.${20 + i}`,
      pod: inNs({ ...algorithmLabels(objects), [LabelKey.Action]: action }),
      ports: [tcp(8080)],
    })),
    ...(testPod ? [{ name: 'helm-test', ip: '10.42.0.13', pod: inNs(testPod.labels), ports: [tcp(8080)] }] : []),
    { name: 'other-pod', ip: '10.42.0.14', pod: inNs({ app: 'other' }), ports: [tcp(8080)] },
    { name: 'other-ns-pod', ip: '10.42.1.5', pod: { namespace: 'default', labels: { app: 'web' } }, ports: [tcp(8080)] },
    { name: 'data-db', ip: '10.42.3.9', pod: { namespace: 'data', labels: { app: 'omop-db' } }, ports: [tcp(5432)] },
    { name: 'dns', ip: '10.42.2.2', pod: { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } }, ports: DNS_PORTS },
    { name: 'node-local-dns', ip: '169.254.20.10', ports: DNS_PORTS },
    { name: 'kube-api', ip: '192.168.1.10', ports: [tcp(443), tcp(6443)] },
    { name: 'v6-server', ip: '203.0.113.10', ports: [tcp(443), tcp(5000)] },
    { name: 'ext-redis', ip: '10.96.50.10', ports: [tcp(6379)] },
    { name: 'http-proxy', ip: '198.51.100.7', ports: [tcp(3128)] },
    { name: 'internet', ip: '93.184.216.34', ports: [tcp(80), tcp(443)] },
  ];
}

/** The matrix of the chart's policies in a scenario, with `others` (policies not the chart's) besides. */
async function matrixOf(scenario: string | undefined, set: string[] = [], others: V1NetworkPolicy[] = [], extraEndpoints: (objects: K8sObject[]) => Endpoint[] = () => []) {
  const objects = await render({ scenario, set });
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as unknown as V1NetworkPolicy[];
  return reachability([...policies, ...others], [...endpoints(objects), ...extraEndpoints(objects)], NAMESPACES);
}

/** Only what is not "—": the intended matrix lists the allowed connections, everything else is denied. */
function allowed(matrix: Record<string, Record<string, string[]>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [src, row] of Object.entries(matrix)) {
    for (const [dst, ports] of Object.entries(row)) if (ports.length > 0) out[`${src} -> ${dst}`] = ports;
  }
  return out;
}

/** The release namespace's endpoints; traffic between two endpoints outside it is not the chart's. */
const IN_RELEASE_NAMESPACE = new Set(['node', 'redis', 'algorithm', 'algorithm(node 8)', ...[...OFFLINE_ACTIONS, ...PROXY_ACTIONS].map(ofAction), 'helm-test', 'other-pod']);
function governed(matrix: Record<string, Record<string, string[]>>): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(allowed(matrix)).filter(([key]) => key.split(' -> ').some((end) => IN_RELEASE_NAMESPACE.has(end))),
  );
}

/** `<each source> -> <destination>`: `ports`. */
function fromEach(sources: readonly string[], destination: string, ports: string[]): Record<string, string[]> {
  return Object.fromEntries(sources.map((source) => [`${source} -> ${destination}`, ports]));
}

// The intended isolation, with the server and the API narrowed to their addresses. Algorithm pods
// have no DNS (a lookup is a way out): the agent gives them the proxy by address. The pods of
// data_extraction and preprocessing runs reach nothing at all.
const INTENDED: Record<string, string[]> = {
  'node -> redis': ['6379/TCP'],
  'node -> dns': DNS,
  'node -> kube-api': ['6443/TCP'],
  'node -> v6-server': ['443/TCP'],
  ...fromEach(PROXY_CALLERS, 'node', ['7654/TCP']),
  'algorithm(node 8) -> node': ['7654/TCP'],
  'helm-test -> node': ['7654/TCP', '9464/TCP'],
  'helm-test -> dns': DNS,
};

test('evaluator: selectors, CIDRs, and both ends of a connection', (t) => {
  t.true(matchesSelector({ matchLabels: { a: '1' } }, { a: '1', b: '2' }));
  t.false(matchesSelector({ matchLabels: { a: '1' } }, { a: '2' }));
  t.true(matchesSelector({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['x'] }] }, {}));
  t.false(matchesSelector({ matchExpressions: [{ key: 'a', operator: 'Exists' }] }, {}));
  t.true(inCidr('10.1.2.3', '10.0.0.0/8'));
  t.false(inCidr('11.1.2.3', '10.0.0.0/8'));
  t.true(inCidr('1.2.3.4', '0.0.0.0/0'));
  const a: Endpoint = { name: 'a', ip: '10.0.0.1', pod: { namespace: 'n', labels: { app: 'a' } }, ports: [tcp(80)] };
  const b: Endpoint = { name: 'b', ip: '10.0.0.2', pod: { namespace: 'n', labels: { app: 'b' } }, ports: [tcp(80), tcp(81)] };
  const ns = [{ name: 'n', labels: {} }];
  t.deepEqual(reachability([], [a, b], ns).a!.b, ['80/TCP', '81/TCP'], 'no policy: open');
  const denyAll: V1NetworkPolicy = { metadata: { name: 'd', namespace: 'n' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } };
  t.deepEqual(reachability([denyAll], [a, b], ns).a!.b, []);
  const egressA: V1NetworkPolicy = { metadata: { name: 'e', namespace: 'n' }, spec: { podSelector: { matchLabels: { app: 'a' } }, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'TCP', port: 81 }] }] } };
  t.deepEqual(reachability([denyAll, egressA], [a, b], ns).a!.b, [], 'egress alone is not enough when ingress is denied');
  const ingressB = { metadata: { name: 'i', namespace: 'n' }, spec: { podSelector: { matchLabels: { app: 'b' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }] }] } } as unknown as V1NetworkPolicy;
  t.deepEqual(reachability([denyAll, egressA, ingressB], [a, b], ns).a!.b, ['81/TCP']);
  t.deepEqual(reachability([denyAll, egressA, ingressB], [a, b], ns).b!.a, []);
});

test('reachability with the server and API narrowed (bundled Redis): exactly the intended matrix', async (t) => {
  const matrix = await matrixOf('bundled-redis-values.yaml');
  t.log(`\n${formatMatrix(matrix)}`);
  t.deepEqual(governed(matrix), INTENDED);
});

test('reachability with encryption on and with existing Secrets / external Redis', async (t) => {
  t.deepEqual(governed(await matrixOf('encryption-values.yaml')), INTENDED);
  const external = governed(await matrixOf('external-redis-existing-secrets-values.yaml'));
  const expected: Record<string, string[]> = { ...INTENDED, 'node -> ext-redis': ['6379/TCP'] };
  delete expected['node -> redis'];
  t.deepEqual(external, expected);
});

test('reachability of a vantage6 5 node (ci/hub-values.yaml): as intended', async (t) => {
  t.deepEqual(governed(await matrixOf('hub-values.yaml')), INTENDED);
});

test('reachability of a vantage6 5 node with networkPolicy.dataExtractionEgress: its data_extraction runs reach that database, and only they; preprocessing runs still reach nothing', async (t) => {
  const rule = 'networkPolicy.dataExtractionEgress[0]';
  const matrix = await matrixOf('hub-values.yaml', [`${rule}.to[0].ipBlock.cidr=10.42.3.9/32`, `${rule}.ports[0].port=5432`]);
  t.deepEqual(governed(matrix), { ...INTENDED, [`${ofAction('data_extraction')} -> data-db`]: ['5432/TCP'] });
});

test('reachability with extra egress: the node reaches its HTTP proxy, algorithms one data service (not those of data_extraction or preprocessing runs), nothing more', async (t) => {
  const matrix = await matrixOf('extra-egress-values.yaml');
  t.deepEqual(governed(matrix), {
    ...INTENDED,
    'node -> http-proxy': ['3128/TCP'],
    ...fromEach([...PROXY_CALLERS, 'algorithm(node 8)'], 'data-db', ['5432/TCP']),
  });
});

test('reachability with networkPolicy.nodeId: only that node\'s algorithm pods reach the proxy', async (t) => {
  const matrix = await matrixOf('several-databases-values.yaml');
  t.log(`\n${formatMatrix(matrix)}`);
  t.deepEqual(governed(matrix), {
    'node -> redis': ['6379/TCP'],
    'node -> dns': DNS,
    'node -> kube-api': ['6443/TCP'],
    'node -> v6-server': ['5000/TCP'],
    ...fromEach(PROXY_CALLERS, 'node', ['8081/TCP']),
    'helm-test -> node': ['8081/TCP', '9090/TCP'],
    'helm-test -> dns': DNS,
  });
});

test('reachability with the defaults: as intended, except that the wide default CIDRs let the node pod reach any address on 443/6443', async (t) => {
  const matrix = await matrixOf(undefined);
  t.log(`\n${formatMatrix(matrix)}`);
  t.deepEqual(governed(matrix), {
    ...INTENDED,
    'node -> kube-api': ['443/TCP', '6443/TCP'],
    'node -> v6-server': ['443/TCP'],
    'node -> internet': ['443/TCP'],
  });
});

test('reachability with networkPolicy.dns.cidrs (a resolver that is not a pod): DNS goes there instead of to the kube-dns pods', async (t) => {
  const matrix = await matrixOf('bundled-redis-values.yaml', ['networkPolicy.dns.cidrs={169.254.20.10/32}']);
  const expected: Record<string, string[]> = { ...INTENDED, 'node -> node-local-dns': DNS, 'helm-test -> node-local-dns': DNS };
  delete expected['node -> dns'];
  delete expected['helm-test -> dns'];
  t.deepEqual(governed(matrix), expected);
});

test('with networkPolicy.defaultDeny false the pods of data_extraction and preprocessing runs still reach nothing, and nothing reaches them', async (t) => {
  const matrix = await matrixOf('bundled-redis-values.yaml', ['networkPolicy.defaultDeny=false']);
  const offline = new Set(OFFLINE_ACTIONS.map(ofAction));
  t.deepEqual(Object.keys(allowed(matrix)).filter((key) => key.split(' -> ').some((end) => offline.has(end))), []);
  // What the default deny held before now goes: the evaluator sees the difference.
  t.deepEqual(matrix['other-pod']!.internet, ['80/TCP', '443/TCP']);
  t.deepEqual(matrix['other-pod']![ofAction('federated_compute')], [], 'no way in to any algorithm pod');
  t.deepEqual(matrix[ofAction('federated_compute')]!.node, ['7654/TCP']);
});

test("the node pod's own ingress refuses data_extraction and preprocessing runs: another policy letting every pod out does not open the proxy to them", async (t) => {
  const allOut: V1NetworkPolicy = { metadata: { name: 'all-out', namespace: NAMESPACE }, spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{}] } };
  const matrix = await matrixOf('bundled-redis-values.yaml', [], [allOut]);
  for (const action of OFFLINE_ACTIONS) {
    t.deepEqual(matrix[ofAction(action)]!.node, [], action);
    t.deepEqual(matrix[ofAction(action)]!.internet, ['80/TCP', '443/TCP'], `${action}: the other policy does let it out`);
  }
  t.deepEqual(matrix.algorithm!.node, ['7654/TCP']);
});

test("the isolation probe's pods, as the agent builds them, are held to the rule of the runs they stand for: a data_extraction probe reaches nothing", async (t) => {
  const kinds = [...probeKinds(4), ...probeKinds(5)];
  const name = (action: string | undefined) => `probe(${action ?? '4.x'})`;
  const targets = { forbidden: { host: '10.43.0.1', port: 443 }, proxy: { host: '10.43.0.12', port: 7654 } };
  const probes = (objects: K8sObject[]): Endpoint[] =>
    kinds.map((kind, i) => {
      const job = buildProbeJob({ nodeId: 7, image: 'v6-node:0.1.0', targets, kind, config: chartConfig(objects) });
      return { name: name(kind.action), ip: `10.42.0.${30 + i}`, pod: { namespace: NAMESPACE, labels: job.spec!.template.metadata!.labels! }, ports: [tcp(8080)] };
    });
  const matrix = allowed(await matrixOf('extra-egress-values.yaml', [], [], probes));
  for (const kind of kinds) {
    const from = Object.fromEntries(Object.entries(matrix).filter(([key]) => key.startsWith(`${name(kind.action)} -> `)));
    t.deepEqual(from, kind.proxy === 'reachable' ? { [`${name(kind.action)} -> node`]: ['7654/TCP'], [`${name(kind.action)} -> data-db`]: ['5432/TCP'] } : {}, name(kind.action));
  }
});

test('without NetworkPolicies nothing is isolated (the evaluator sees the difference)', async (t) => {
  const objects = await render({ set: ['networkPolicy.enabled=false', 'tests.enabled=false'] });
  t.deepEqual(objects.filter((o) => o.kind === 'NetworkPolicy'), []);
  const matrix = reachability([], endpoints(objects), NAMESPACES);
  t.deepEqual(matrix.algorithm!.internet, ['80/TCP', '443/TCP']);
});
