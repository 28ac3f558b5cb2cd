// What admins look for in a chart beside the node itself: an existing ServiceAccount, extra
// volumes (a private CA), HTTP probes of the proxy, ServiceMonitor relabelings, a PrometheusRule
// on metrics the agent exports, a README for `helm show readme`, and Chart.yaml's metadata.
import type { V1Deployment, V1RoleBinding } from '@kubernetes/client-node';
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { documentedMetrics, metricNamesOf } from '../support/prometheus.js';
import { manifestProblems } from './manifests.js';
import { CHART_DIR, helm, NAMESPACE, RELEASE, render, type K8sObject } from './render.js';

const FULLNAME = `${RELEASE}-v6-node`;

function deployment(objects: K8sObject[]): V1Deployment {
  return objects.find((o) => o.kind === 'Deployment') as unknown as V1Deployment;
}

test('serviceAccount.create=false: no ServiceAccount rendered; the pod and the RoleBinding use the existing one, which must be named', async (t) => {
  const objects = await render({ set: ['serviceAccount.create=false', 'serviceAccount.name=hospital-node'] });
  t.false(objects.some((o) => o.kind === 'ServiceAccount'));
  t.is(deployment(objects).spec!.template.spec!.serviceAccountName, 'hospital-node');
  const binding = objects.find((o) => o.kind === 'RoleBinding') as unknown as V1RoleBinding;
  t.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'hospital-node', namespace: NAMESPACE }]);
  await t.throwsAsync(render({ set: ['serviceAccount.create=false'] }), { message: /serviceAccount[\s\S]*name/ });

  const created = await render({ set: ['serviceAccount.name=own-name'] });
  t.deepEqual(created.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name), ['own-name']);
});

test('extraVolumes are volumes of the node pod and extraVolumeMounts mounts of both the agent and the proxy', async (t) => {
  const objects = await render({
    set: [
      'extraVolumes[0].name=server-ca',
      'extraVolumes[0].configMap.name=server-ca',
      'extraVolumeMounts[0].name=server-ca',
      'extraVolumeMounts[0].mountPath=/etc/v6-node/ca',
      'extraVolumeMounts[0].readOnly=true',
      'agent.extraEnv[0].name=NODE_EXTRA_CA_CERTS',
      'agent.extraEnv[0].value=/etc/v6-node/ca/ca.crt',
    ],
  });
  const spec = deployment(objects).spec!.template.spec!;
  t.deepEqual(spec.volumes?.find((v) => v.name === 'server-ca'), { name: 'server-ca', configMap: { name: 'server-ca' } } as never);
  for (const container of spec.containers) {
    t.deepEqual(container.volumeMounts?.find((m) => m.name === 'server-ca'), { name: 'server-ca', mountPath: '/etc/v6-node/ca', readOnly: true }, container.name);
    t.is(container.env?.find((e) => e.name === 'NODE_EXTRA_CA_CERTS')?.value, '/etc/v6-node/ca/ca.crt', container.name);
  }
  t.deepEqual(objects.flatMap(manifestProblems), []);
  for (const set of ['extraVolumeMounts[0].name=x', 'extraVolumeMounts[0].name=x,extraVolumeMounts[0].mountPath=relative', 'extraVolumes[0].configMap.name=no-name']) {
    await t.throwsAsync(render({ set: [set] }), { message: /schema/ }, set);
  }
});

test('the proxy\'s probes are HTTP: GET /livez and /readyz on its metrics port', async (t) => {
  const objects = await render({ set: ['metrics.proxyPort=9999'] });
  const proxy = deployment(objects).spec!.template.spec!.containers.find((c) => c.name === 'proxy')!;
  t.deepEqual(proxy.livenessProbe?.httpGet, { path: '/livez', port: 'proxy-metrics' } as never);
  t.deepEqual(proxy.readinessProbe?.httpGet, { path: '/readyz', port: 'proxy-metrics' } as never);
  t.is(proxy.ports?.find((p) => p.name === 'proxy-metrics')?.containerPort, 9999);
  const off = await render({ set: ['proxy.livenessProbe.enabled=false', 'proxy.readinessProbe.enabled=false'] });
  const proxyOff = deployment(off).spec!.template.spec!.containers.find((c) => c.name === 'proxy')!;
  t.is(proxyOff.livenessProbe, undefined);
  t.is(proxyOff.readinessProbe, undefined);
});

test('metrics.serviceMonitor.relabelings and metricRelabelings apply to both endpoints', async (t) => {
  const relabel = { sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' };
  const objects = await render({
    set: [
      'metrics.serviceMonitor.enabled=true',
      'metrics.serviceMonitor.relabelings[0].sourceLabels[0]=__meta_kubernetes_pod_node_name',
      'metrics.serviceMonitor.relabelings[0].targetLabel=node',
      'metrics.serviceMonitor.metricRelabelings[0].action=drop',
      'metrics.serviceMonitor.metricRelabelings[0].regex=nodejs_gc_.*',
      'metrics.serviceMonitor.metricRelabelings[0].sourceLabels[0]=__name__',
    ],
  });
  const monitor = objects.find((o) => o.kind === 'ServiceMonitor') as K8sObject & { spec: { endpoints: Array<Record<string, unknown>> } };
  t.is(monitor.spec.endpoints.length, 2);
  for (const endpoint of monitor.spec.endpoints) {
    t.deepEqual(endpoint.relabelings, [relabel]);
    t.deepEqual(endpoint.metricRelabelings, [{ action: 'drop', regex: 'nodejs_gc_.*', sourceLabels: ['__name__'] }]);
  }
});

interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

test('the PrometheusRule: off by default; when on, four alerts on metrics the README documents, selecting this release\'s job and namespace', async (t) => {
  t.false((await render()).some((o) => o.kind === 'PrometheusRule'));
  const objects = await render({ set: ['metrics.prometheusRule.enabled=true', 'metrics.prometheusRule.labels.release=kube-prometheus', 'metrics.prometheusRule.alertLabels.team=hospital-it'] });
  const rule = objects.find((o) => o.kind === 'PrometheusRule') as K8sObject & { spec: { groups: Array<{ name: string; rules: Rule[] }> } };
  t.is(rule.apiVersion, 'monitoring.coreos.com/v1');
  t.is(rule.metadata.namespace, NAMESPACE);
  t.is(rule.metadata.labels?.release, 'kube-prometheus');
  const rules = rule.spec.groups.flatMap((g) => g.rules);
  t.deepEqual(rules.map((r) => r.alert), ['V6NodeServerDisconnected', 'V6NodeIsolationNotEnforced', 'V6NodeQueueStuck', 'V6NodeRunsFailing']);
  const documented = new Set(await documentedMetrics());
  for (const r of rules) {
    for (const name of metricNamesOf(r.expr)) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      t.true(documented.has(name) || documented.has(family), `${r.alert}: ${name} is a documented metric`);
    }
    const selectors = [...r.expr.matchAll(/[a-z_]+\{([^}]*)\}/g)].map((m) => m[1]!);
    t.true(selectors.length > 0);
    for (const matchers of selectors) t.true(matchers.startsWith(`job="${FULLNAME}", namespace="${NAMESPACE}"`), `${r.alert}: {${matchers}}`);
    t.regex(r.for, /^\d+m$/);
    t.true(['critical', 'warning'].includes(r.labels.severity!));
    t.is(r.labels.team, 'hospital-it');
    t.truthy(r.annotations.summary);
    t.true((r.annotations.description ?? '').length > 80, `${r.alert} tells the admin what to check`);
  }
  await t.throwsAsync(render({ set: ['metrics.prometheusRule.enable=true'] }), { message: /schema/ });
});

test('helm show readme documents the chart: install, and every top-level section of values.yaml', async (t) => {
  const { stdout } = await helm(['show', 'readme', CHART_DIR]);
  t.regex(stdout, /^# v6-node\n/);
  t.regex(stdout, /helm install /);
  const values = parse(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(values)) t.true(stdout.includes(`\`${key}\``), `the README names \`${key}\``);
  for (const alert of ['V6NodeServerDisconnected', 'V6NodeIsolationNotEnforced', 'V6NodeQueueStuck', 'V6NodeRunsFailing']) t.true(stdout.includes(alert), alert);
});

test('Chart.yaml carries what chart-testing and Artifact Hub read: maintainers, icon, sources, annotations', async (t) => {
  const chart = parse(await readFile(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  t.true(Array.isArray(chart.maintainers) && (chart.maintainers as Array<{ name?: string }>).every((m) => typeof m.name === 'string'));
  t.regex(String(chart.icon), /^https:\/\/.+\.(png|svg)$/);
  t.true(Array.isArray(chart.sources) && (chart.sources as string[]).length > 0);
  const annotations = chart.annotations as Record<string, string>;
  t.is(annotations['artifacthub.io/license'], 'Apache-2.0');
  for (const key of ['artifacthub.io/links', 'artifacthub.io/images']) {
    const list = parse(annotations[key]!) as Array<{ name: string }>;
    t.true(Array.isArray(list) && list.length > 0, key);
  }
  const images = (parse(annotations['artifacthub.io/images']!) as Array<{ image: string }>).map((i) => i.image);
  const values = parse(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')) as { image: { repository: string }; redis: { image: { repository: string; tag: string } } };
  t.true(images.includes(`${values.image.repository}:${chart.appVersion as string}`), 'the agent image at appVersion');
  t.true(images.includes(`${values.redis.image.repository}:${values.redis.image.tag}`), 'the bundled Redis image');
});
