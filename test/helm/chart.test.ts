// The Helm chart, rendered by the real helm binary with the defaults and every ci/ scenario:
// lint, schema, every object valid for the API, restricted pods (chart and agent Jobs), minimal
// namespaced RBAC, and a ConfigMap the agent accepts with every config key reachable.
import type { V1Deployment, V1PodSpec, V1PolicyRule, V1RoleBinding, V1StatefulSet } from '@kubernetes/client-node';
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REQUIRED_PERMISSIONS } from '../../agent/cluster/access.js';
import { apiBaseUrl, parseConfig, protocolOf, type Config } from '../../agent/config.js';
import { buildRunObjects } from '../../agent/kube/job-spec.js';
import { isolationGateFor } from '../../agent/isolation/gate.js';
import { buildProbeJob, probeKinds, probeTargets } from '../../agent/isolation/probe-spec.js';
import { manifestProblems, unknownFields } from './manifests.js';
import { restrictedViolations } from './pod-security.js';
import { CHART_DIR, helm, NAMESPACE, RELEASE, render, SCENARIOS, type K8sObject } from './render.js';

const ENV = { V6_API_KEY: '123e4567-e89b-42d3-a456-426614174000', V6_KUBE_NODE_NAME: 'worker-1', V6_REDIS_PASSWORD: 'secret' };
const label = (scenario: string | undefined) => scenario ?? 'defaults';

const renders = new Map<string | undefined, Promise<K8sObject[]>>();
function rendered(scenario: string | undefined): Promise<K8sObject[]> {
  if (!renders.has(scenario)) renders.set(scenario, render({ scenario }));
  return renders.get(scenario)!;
}

function podSpecs(objects: K8sObject[]): Array<{ where: string; spec: V1PodSpec; labels: Record<string, string> }> {
  return objects.flatMap((o) => {
    const where = `${o.kind}/${o.metadata.name}`;
    if (o.kind === 'Pod') return [{ where, spec: o.spec as V1PodSpec, labels: o.metadata.labels ?? {} }];
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') {
      const template = (o as unknown as V1Deployment | V1StatefulSet).spec!.template;
      return [{ where, spec: template.spec!, labels: template.metadata?.labels ?? {} }];
    }
    return [];
  });
}

/** The agent config the chart renders (ConfigMap or Secret), parsed by the agent's own parser. */
export function chartConfig(objects: K8sObject[]): { text: string; config: Config } {
  const holder = objects.find((o) => o.metadata.name === `${RELEASE}-v6-node-config`);
  if (holder === undefined) throw new Error('no config object');
  const data = (holder.kind === 'Secret' ? holder.stringData : holder.data) as Record<string, string>;
  const text = data['config.yaml']!;
  return { text, config: parseConfig(text, ENV, `${holder.kind}/${holder.metadata.name}`).config };
}

test('helm lint --strict passes with the defaults and every scenario', async (t) => {
  for (const scenario of SCENARIOS) {
    const args = ['lint', '--strict', CHART_DIR, ...(scenario === undefined ? [] : ['--values', join(CHART_DIR, 'ci', scenario)])];
    const { stdout } = await helm(args);
    t.regex(stdout, /0 chart\(s\) failed/, label(scenario));
  }
});

test('values.schema.json rejects unknown keys at every level and wrong types', async (t) => {
  for (const set of ['typo=1', 'redis.bundledd=true', 'networkPolicy.server.cidr=1.2.3.4/32', 'proxy.port=0', 'taskVolume.accessMode=ReadOnlyMany', 'logLevel=loud']) {
    await t.throwsAsync(render({ set: [set] }), { message: /schema/ }, set);
  }
  await t.throwsAsync(render({ set: ['redis.bundled=false'] }), undefined, 'external Redis needs a URL');
});

test('every rendered object is valid for the Kubernetes API and has no unknown fields', async (t) => {
  for (const scenario of SCENARIOS) {
    const objects = await rendered(scenario);
    t.true(objects.length > 10, label(scenario));
    for (const object of objects) {
      t.deepEqual(manifestProblems(object), [], `${label(scenario)}: ${object.kind}/${object.metadata.name}`);
      t.is(object.metadata.namespace, NAMESPACE, `${object.kind}/${object.metadata.name} namespaced in the release namespace`);
      const labels = object.metadata.labels ?? {};
      for (const key of ['helm.sh/chart', 'app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by']) {
        t.truthy(labels[key], `${object.kind}/${object.metadata.name} has ${key}`);
      }
    }
  }
});

test('the unknown-field check finds a misspelt field deep in a pod template', (t) => {
  const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { selector: {}, template: { spec: { containers: [{ name: 'a', securityContxt: {} }] } } } };
  t.deepEqual(unknownFields(deployment, 'V1Deployment'), ['spec.template.spec.containers[0]: unknown field securityContxt (V1Container)']);
  t.deepEqual(unknownFields({ metadata: { labels: { any: 'thing' } }, spec: { ports: [{ port: 1, targetPort: 'proxy' }] } }, 'V1Service'), []);
});

test('every pod template of the chart is Pod Security "restricted" with a read-only root filesystem', async (t) => {
  for (const scenario of SCENARIOS) {
    const pods = podSpecs(await rendered(scenario));
    t.deepEqual(
      pods.map((p) => p.where.split('/')[0]).sort(),
      scenario?.includes('external-redis') ? ['Deployment', 'Pod'] : ['Deployment', 'Pod', 'StatefulSet'],
      label(scenario),
    );
    for (const { where, spec } of pods) {
      t.deepEqual(restrictedViolations(spec, { readOnlyRootFilesystem: true }), [], `${label(scenario)}: ${where}`);
      for (const c of spec.containers) t.truthy(c.resources?.limits?.memory, `${where}/${c.name} has a memory limit`);
    }
  }
});

test("the agent's algorithm Jobs, built from the chart's config, are Pod Security \"restricted\"", async (t) => {
  for (const scenario of SCENARIOS) {
    const { config } = chartConfig(await rendered(scenario));
    const { job } = buildRunObjects({
      run: { id: 12, taskId: 3, jobId: 3, parentId: null, image: 'harbor2.vantage6.ai/algorithms/glm:1', databases: [] },
      node: { id: 7, organizationId: 1, collaborationId: 1, name: 'site-a' },
      token: 'token',
      proxyUrl: 'http://10.43.0.12',
      isolationGate: isolationGateFor(config, 'https://10.43.0.1:443'),
      config,
    });
    const spec = job.spec!.template.spec!;
    // The isolation gate is there whenever the probe is on, isolation is required and the gate not turned off; restricted too.
    t.is(spec.initContainers?.length ?? 0, config.isolation.probe && !config.isolation.allow_unenforced && config.isolation.gate ? 1 : 0, label(scenario));
    t.deepEqual(restrictedViolations(spec, { readOnlyRootFilesystem: true }), [], label(scenario));
    const claims = spec.volumes!.filter((v) => v.name.startsWith('database-'));
    t.is(claims.length, new Set(config.databases.flatMap((d) => (d.volume ? [d.volume.claim_name] : []))).size);
    for (const v of claims) t.true(v.persistentVolumeClaim?.readOnly, `${v.name} is mounted read-only`);
    for (const m of spec.containers[0]!.volumeMounts!.filter((m) => m.name.startsWith('database-'))) t.true(m.readOnly);
  }
});

test('the isolation probe Jobs (of a 4.x and of a vantage6 5 node), built from the chart\'s config, are Pod Security "restricted" and run the chart\'s image', async (t) => {
  for (const scenario of SCENARIOS) {
    const objects = await rendered(scenario);
    const { config } = chartConfig(objects);
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as V1Deployment;
    t.is(config.isolation.image, deployment.spec!.template.spec!.containers[0]!.image, `${label(scenario)}: the agent's own image`);
    const targets = probeTargets(config, 'https://10.43.0.1:443', 'http://10.43.0.12')!;
    for (const kind of [...probeKinds(4), ...probeKinds(5)]) {
      const job = buildProbeJob({ nodeId: 7, image: config.isolation.image!, targets, kind, config });
      t.deepEqual(restrictedViolations(job.spec!.template.spec!, { readOnlyRootFilesystem: true }), [], `${label(scenario)}, ${kind.action ?? '4.x'}`);
      t.is(job.metadata?.namespace, NAMESPACE);
    }
  }
  const { config } = chartConfig(await rendered('extra-egress-values.yaml'));
  t.is(config.isolation.forbidden_url, 'https://v6.example.org');
  t.is(config.isolation.interval_seconds, 600);
  t.deepEqual(chartConfig(await rendered('several-databases-values.yaml')).config.isolation.image_pull_secrets, ['node-registry']);
  const off = chartConfig(await render({ set: ['isolation.probe=false', 'isolation.image=mirror.example/v6-node:1'] })).config.isolation;
  t.is(off.probe, false);
  t.is(off.image, 'mirror.example/v6-node:1');
});

test('the checker rejects what "restricted" forbids', (t) => {
  const bad: V1PodSpec = {
    hostNetwork: true,
    securityContext: { runAsUser: 0 },
    volumes: [{ name: 'host', hostPath: { path: '/' } }],
    containers: [{ name: 'c', securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } }, ports: [{ containerPort: 80, hostPort: 80 }] }],
  };
  const problems = restrictedViolations(bad, { readOnlyRootFilesystem: true });
  for (const expected of [
    'spec.hostNetwork must not be true',
    'volume host: type hostPath is not allowed',
    'spec.securityContext.runAsUser must not be 0',
    'container c: privileged must not be true',
    'container c: allowPrivilegeEscalation must be false',
    'container c: capabilities.drop must include ALL',
    'container c: capability SYS_ADMIN must not be added',
    'container c: runAsNonRoot must be true (pod or container)',
    'container c: seccompProfile.type must be RuntimeDefault or Localhost (pod or container)',
    'container c: hostPort 80 is not allowed',
    'container c: readOnlyRootFilesystem must be true',
  ]) {
    t.true(problems.includes(expected), expected);
  }
});

// Exactly the permissions the agent checks it has (agent/cluster/access.ts), which are the calls it makes.
const AGENT_RULES = (() => {
  const verbs = new Map<string, string[]>();
  for (const p of REQUIRED_PERMISSIONS) {
    const resource = `${p.group}/${p.subresource === undefined ? p.resource : `${p.resource}/${p.subresource}`}`;
    verbs.set(resource, [...(verbs.get(resource) ?? []), p.verb]);
  }
  return [...verbs].map(([resource, list]) => `${resource}: ${list.sort().join(',')}`).sort();
})();

test('RBAC: one namespaced Role with exactly the verbs the agent uses, bound to the chart ServiceAccount only', async (t) => {
  for (const scenario of SCENARIOS) {
    const objects = await rendered(scenario);
    t.deepEqual(
      objects.filter((o) => o.kind.startsWith('Cluster')).map((o) => o.kind),
      [],
      `${label(scenario)}: no cluster-scoped RBAC`,
    );
    const roles = objects.filter((o) => o.kind === 'Role');
    t.is(roles.length, 1);
    const rules = (roles[0]!.rules as V1PolicyRule[]).flatMap((rule) =>
      (rule.apiGroups ?? []).flatMap((group) => (rule.resources ?? []).map((resource) => `${group}/${resource}: ${[...(rule.verbs ?? [])].sort().join(',')}`)),
    );
    t.deepEqual(rules.sort(), AGENT_RULES, label(scenario));
    for (const rule of roles[0]!.rules as V1PolicyRule[]) t.falsy(rule.resourceNames ?? rule.nonResourceURLs);
    const bindings = objects.filter((o) => o.kind === 'RoleBinding') as unknown as V1RoleBinding[];
    t.is(bindings.length, 1);
    t.deepEqual(bindings[0]!.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roles[0]!.metadata.name });
    t.deepEqual(bindings[0]!.subjects, [{ kind: 'ServiceAccount', name: `${RELEASE}-v6-node`, namespace: NAMESPACE }]);
    // Only the agent container gets the token; the proxy and Redis never talk to the API.
    for (const { where, spec } of podSpecs(objects)) {
      t.false(spec.automountServiceAccountToken, `${where}: no automounted token`);
      const withToken = spec.containers.filter((c) => (c.volumeMounts ?? []).some((m) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount'));
      t.deepEqual(withToken.map((c) => c.name), where.startsWith('Deployment') ? ['agent'] : [], where);
    }
  }
});

/** Leaf paths of a YAML mapping, lists marked []. */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => keyPaths(v, `${prefix}[]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => {
      const path = prefix === '' ? k : `${prefix}.${k}`;
      // Free-form mappings: their keys are data, not config keys.
      return ['algorithm_env', 'databases[].env'].includes(path) ? [path] : keyPaths(v, path);
    });
  }
  return [prefix];
}

test('the rendered config parses with the agent parser, and every config key is reachable from values', async (t) => {
  const reached = new Set<string>();
  for (const scenario of SCENARIOS) {
    const { text, config } = chartConfig(await rendered(scenario));
    t.is(config.kubernetes.namespace, NAMESPACE, 'runs go to the release namespace');
    t.is(config.kubernetes.node_name, 'worker-1', 'node_name comes from V6_KUBE_NODE_NAME');
    for (const path of keyPaths(parse(text))) reached.add(path);
  }
  // Given through the environment from Secrets and the downward API, never in the config file.
  const fromEnv = new Set(['api_key', 'kubernetes.node_name', 'redis.password', 'isolation.allow_unenforced']);
  const example = keyPaths(parse(await readFile(new URL('../../agent/v6-node.example.yaml', import.meta.url), 'utf8')));
  t.deepEqual(example.filter((path) => !fromEnv.has(path) && !reached.has(path)), []);
  t.deepEqual([...reached].filter((path) => fromEnv.has(path)), [], 'no secret lands in the config file');
});

test('values map onto config keys (several-databases scenario)', async (t) => {
  const { config } = chartConfig(await rendered('several-databases-values.yaml'));
  t.is(config.server_url, 'https://v6.example.org');
  t.is(config.port, 5000);
  t.deepEqual(
    config.databases.map((d) => [d.label, d.volume?.claim_name, d.volume?.sub_path]),
    [
      ['default', `${RELEASE}-v6-node-db-default`, undefined],
      ['imaging_2024', 'imaging', 'cohort-2024'],
      ['omop', undefined, undefined],
    ],
  );
  t.deepEqual(config.proxy, { url: `http://${RELEASE}-v6-node.${NAMESPACE}.svc.cluster.local`, port: 8080, listen_port: 8081, max_body_bytes: 20971520, max_concurrent_decryptions: 1, max_bytes_in_flight: 134217728 });
  t.is(config.kubernetes.run.fs_group, 20000);
  t.deepEqual(config.kubernetes.image_overrides, [{ image: 'harbor2.vantage6.ai/algorithms/glm', resources: { limits: { memory: '16Gi' } }, active_deadline_seconds: 172800 }]);
  t.is(config.policies.allow_either_whitelist_or_store, true);
  t.deepEqual(config.policies.allowed_organizations, ['1', 'University Hospital']);
  const { config: encrypted } = chartConfig(await rendered('encryption-values.yaml'));
  t.deepEqual(encrypted.encryption, { enabled: true, private_key: '/etc/v6-node/private-key/private-key.pem' });
});

test('a 5 hub: hub.* become hq_url, port, api_path, name and keycloak, and server.* is not used; the name and Keycloak are required', async (t) => {
  const { config } = chartConfig(await rendered('hub-values.yaml'));
  t.like(config, {
    hq_url: 'https://hq.example.org',
    port: 443,
    api_path: '/hq',
    name: 'alpha-hospital-cancer-study-node',
    keycloak: { url: 'https://auth.example.org', realm: 'vantage6' },
  });
  t.is(config.server_url, undefined);
  t.is(protocolOf(config), 5);
  t.is(apiBaseUrl(config), 'https://hq.example.org:443/hq');
  const hub = ['hub.url=https://hq.example.org', 'hub.nodeName=alpha', 'hub.keycloak.url=https://auth.example.org'];
  t.like(chartConfig(await render({ set: [...hub, 'hub.apiPath=/api', 'hub.keycloak.realm=v6'] })).config, { api_path: '/api', keycloak: { realm: 'v6' } });
  for (const missing of ['hub.nodeName', 'hub.keycloak.url']) {
    await t.throwsAsync(render({ set: hub.filter((pair) => !pair.startsWith(`${missing}=`)) }), { message: new RegExp(missing.replaceAll('.', '[./]')) }, missing);
  }
  await t.throwsAsync(render({ set: ['hub.url=https://hq.example.org/hq'] }), { message: /schema/ }, 'the path goes in hub.apiPath');
});

test('the Deployment: agent and proxy from one image and config, node name from the downward API, probes switchable', async (t) => {
  for (const scenario of SCENARIOS) {
    const objects = await rendered(scenario);
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as V1Deployment;
    const spec = deployment.spec!.template.spec!;
    t.deepEqual(spec.containers.map((c) => c.args?.slice(0, 2)), [['start', '--config'], ['proxy', '--config']]);
    t.is(spec.containers[0]!.image, spec.containers[1]!.image);
    const { config } = chartConfig(objects);
    for (const c of spec.containers) {
      t.deepEqual(c.env?.find((e) => e.name === 'V6_KUBE_NODE_NAME')?.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
      t.truthy(c.env?.find((e) => e.name === 'V6_API_KEY')?.valueFrom?.secretKeyRef);
      t.truthy(c.volumeMounts?.find((m) => m.name === 'config' && m.readOnly));
    }
    const agent = spec.containers[0]!;
    t.truthy(agent.volumeMounts?.find((m) => m.name === 'tasks' && m.mountPath === config.kubernetes.task_volume.mount_path));
    t.is(spec.volumes?.find((v) => v.name === 'tasks')?.persistentVolumeClaim?.claimName, config.kubernetes.task_volume.claim_name);
    t.is(agent.livenessProbe?.httpGet?.path, '/livez');
    t.is(agent.readinessProbe?.httpGet?.path, '/readyz');
    t.is(agent.ports?.[0]?.containerPort, config.metrics.port);
    t.is(spec.containers[1]!.ports?.[0]?.containerPort, config.proxy.listen_port);
    t.is(spec.securityContext?.fsGroup, config.kubernetes.run.fs_group, 'the agent writes run folders the algorithm group can use');
    if (config.encryption.enabled) t.truthy(agent.volumeMounts?.find((m) => m.mountPath === '/etc/v6-node/private-key' && m.readOnly));
  }
  const off = await render({ set: ['agent.livenessProbe.enabled=false', 'agent.readinessProbe.enabled=false'] });
  const agent = (off.find((o) => o.kind === 'Deployment') as unknown as V1Deployment).spec!.template.spec!.containers[0]!;
  t.is(agent.livenessProbe, undefined);
  t.is(agent.readinessProbe, undefined);
});

test('the node pod: requests and limits from the measured footprint, and NODE_OPTIONS per container from values', async (t) => {
  const spec = ((await rendered(undefined)).find((o) => o.kind === 'Deployment') as unknown as V1Deployment).spec!.template.spec!;
  const [agent, proxy] = spec.containers;
  t.deepEqual(agent!.resources, { requests: { cpu: '100m', memory: '192Mi' }, limits: { cpu: '2', memory: '640Mi' } });
  t.deepEqual(proxy!.resources, { requests: { cpu: '50m', memory: '96Mi' }, limits: { cpu: '1', memory: '1Gi' } });
  for (const c of [agent!, proxy!]) t.is(c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value, '--max-semi-space-size=2', c.name);
  const tuned = (await render({ set: ['proxy.nodeOptions=--max-semi-space-size=1 --max-old-space-size=200'] })).find((o) => o.kind === 'Deployment') as unknown as V1Deployment;
  t.is(tuned.spec!.template.spec!.containers[1]!.env?.find((e) => e.name === 'NODE_OPTIONS')?.value, '--max-semi-space-size=1 --max-old-space-size=200');
});

test('Secrets: chart-created or existing, never both; Redis bundled or external', async (t) => {
  const names = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort();
  t.deepEqual(names(await rendered('bundled-redis-values.yaml'), 'Secret'), [`${RELEASE}-v6-node-api-key`, `${RELEASE}-v6-node-redis`]);
  t.deepEqual(names(await rendered('encryption-values.yaml'), 'Secret'), [`${RELEASE}-v6-node-api-key`, `${RELEASE}-v6-node-config`, `${RELEASE}-v6-node-redis`]);
  const external = await rendered('external-redis-existing-secrets-values.yaml');
  t.deepEqual(names(external, 'Secret'), []);
  t.deepEqual(names(external, 'StatefulSet'), []);
  t.deepEqual(names(external, 'PersistentVolumeClaim'), [], 'existing task claim: none created');
  const agent = (external.find((o) => o.kind === 'Deployment') as unknown as V1Deployment).spec!.template.spec!.containers[0]!;
  t.deepEqual(agent.env?.find((e) => e.name === 'V6_REDIS_PASSWORD')?.valueFrom, { secretKeyRef: { name: 'redis-credentials', key: 'password' } });
  t.deepEqual(agent.env?.find((e) => e.name === 'V6_API_KEY')?.valueFrom, { secretKeyRef: { name: 'node-credentials', key: 'api-key' } });
  t.is(chartConfig(external).config.redis.url, 'redis://redis.shared.svc.cluster.local:6379');
  const redis = (await rendered(undefined)).find((o) => o.kind === 'StatefulSet') as unknown as V1StatefulSet;
  t.is(redis.spec!.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage, '2Gi');
  const redisConf = (await rendered(undefined)).find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-redis'))!.data as Record<string, string>;
  t.regex(redisConf['redis.conf']!, /^appendonly yes$/m);
  t.regex(redisConf['redis.conf']!, /^maxmemory-policy noeviction$/m);
});
