// The chart's monitoring objects: the Grafana dashboard ConfigMap and the optional ServiceMonitor
// (rendered only: kubernetes-models does not know monitoring.coreos.com, so its shape is checked
// here), and that Service, container ports, config and NetworkPolicy agree on the metrics ports.
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig, type Config } from '../../agent/config.js';
import { CHART_DIR, NAMESPACE, RELEASE, render, type K8sObject } from './render.js';

const FULLNAME = `${RELEASE}-v6-node`;
const ENV = { V6_API_KEY: '123e4567-e89b-42d3-a456-426614174000', V6_KUBE_NODE_NAME: 'worker-1', V6_REDIS_PASSWORD: 'secret' };

/** The agent config the chart renders, parsed by the agent's parser (chart.test.ts checks it in depth). */
function chartConfig(objects: K8sObject[]): { config: Config } {
  const holder = objects.find((o) => o.metadata.name === `${FULLNAME}-config`)!;
  const data = (holder.kind === 'Secret' ? holder.stringData : holder.data) as Record<string, string>;
  return { config: parseConfig(data['config.yaml']!, ENV).config };
}
const DURATION = /^(\d+(ms|s|m|h))+$/;

function find<T>(objects: K8sObject[], kind: string, name = FULLNAME): T | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name) as T | undefined;
}

test('the dashboard ConfigMap carries queue/dashboard.json (the chart copy is identical) with the sidecar label, configurable', async (t) => {
  const [source, copy] = await Promise.all([
    readFile(new URL('../../queue/dashboard.json', import.meta.url), 'utf8'),
    readFile(join(CHART_DIR, 'dashboards', 'v6-node.json'), 'utf8'),
  ]);
  t.is(copy, source, 'helm/v6-node/dashboards/v6-node.json is a copy of queue/dashboard.json: cp queue/dashboard.json helm/v6-node/dashboards/v6-node.json');

  const defaults = await render();
  const configMap = find<K8sObject & { data: Record<string, string> }>(defaults, 'ConfigMap', `${FULLNAME}-dashboard`);
  t.truthy(configMap);
  t.is(configMap!.metadata.labels?.grafana_dashboard, '1');
  t.deepEqual(Object.keys(configMap!.data), ['v6-node.json']);
  t.deepEqual(JSON.parse(configMap!.data['v6-node.json']!), JSON.parse(source));

  const custom = await render({
    set: ['metrics.grafanaDashboard.labels.grafana_dashboard=null', 'metrics.grafanaDashboard.labels.dashboards=v6', 'metrics.grafanaDashboard.annotations.grafana_folder=vantage6'],
  });
  const customMap = find<K8sObject>(custom, 'ConfigMap', `${FULLNAME}-dashboard`)!;
  t.is(customMap.metadata.labels?.dashboards, 'v6');
  t.is(customMap.metadata.labels?.grafana_dashboard, undefined);
  t.deepEqual(customMap.metadata.annotations, { grafana_folder: 'vantage6' });
  t.is(find(await render({ set: ['metrics.grafanaDashboard.enabled=false'] }), 'ConfigMap', `${FULLNAME}-dashboard`), undefined);
});

test('the ServiceMonitor: off by default; when on, a valid monitoring.coreos.com/v1 object that scrapes the agent and proxy ports of the node Service', async (t) => {
  t.false((await render()).some((o) => o.kind === 'ServiceMonitor'));
  const objects = await render({ set: ['metrics.serviceMonitor.enabled=true', 'metrics.serviceMonitor.labels.release=kube-prometheus', 'metrics.serviceMonitor.interval=15s'] });
  const monitors = objects.filter((o) => o.kind === 'ServiceMonitor');
  t.is(monitors.length, 1);
  const monitor = monitors[0] as K8sObject & {
    spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: Array<Record<string, string>> };
  };
  // Shape (the CRD's fields this chart uses, nothing else).
  t.is(monitor.apiVersion, 'monitoring.coreos.com/v1');
  t.deepEqual(Object.keys(monitor).sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
  t.is(monitor.metadata.namespace, NAMESPACE);
  t.is(monitor.metadata.labels?.release, 'kube-prometheus');
  t.deepEqual(Object.keys(monitor.spec).sort(), ['endpoints', 'namespaceSelector', 'selector']);
  t.deepEqual(monitor.spec.namespaceSelector, { matchNames: [NAMESPACE] });
  for (const endpoint of monitor.spec.endpoints) {
    t.deepEqual(Object.keys(endpoint).sort(), ['interval', 'path', 'port', 'scheme', 'scrapeTimeout']);
    t.is(endpoint.path, '/metrics');
    t.is(endpoint.scheme, 'http');
    t.regex(endpoint.interval!, DURATION);
    t.regex(endpoint.scrapeTimeout!, DURATION);
    t.is(endpoint.interval, '15s');
  }

  // It selects exactly the node Service, by port names the Service has, which lead to the
  // containers' ports, which are the ports the config gives the agent and the proxy.
  const services = objects.filter((o) => o.kind === 'Service') as unknown as V1Service[];
  const selected = services.filter((s) => Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => s.metadata?.labels?.[k] === v));
  t.deepEqual(selected.map((s) => s.metadata?.name), [FULLNAME]);
  const service = selected[0]!;
  const { config } = chartConfig(objects);
  const containers = find<V1Deployment>(objects, 'Deployment')!.spec!.template.spec!.containers;
  const expected = { metrics: ['agent', config.metrics.port], 'proxy-metrics': ['proxy', config.metrics.proxy_port] } as const;
  t.deepEqual(monitor.spec.endpoints.map((e) => e.port), Object.keys(expected));
  for (const [name, [containerName, port]] of Object.entries(expected)) {
    const servicePort = service.spec!.ports!.find((p) => p.name === name);
    t.is(servicePort?.port, port, `Service port ${name}`);
    const container = containers.find((c) => c.name === containerName)!;
    t.is(container.ports?.find((p) => p.name === servicePort?.targetPort)?.containerPort, port, `${containerName} container port ${name}`);
  }
});

test('metrics.proxyPort reaches the config, and metrics.scrapeFrom opens both metrics ports and nothing else', async (t) => {
  const objects = await render({ set: ['metrics.proxyPort=9999', 'metrics.scrapeFrom[0].namespaceSelector.matchLabels.name=monitoring'] });
  t.is(chartConfig(objects).config.metrics.proxy_port, 9999);
  // As rendered (YAML `from`, not client-node's `_from`).
  type Rule = { from?: Array<{ namespaceSelector?: { matchLabels?: Record<string, string> } }>; ports?: unknown[] };
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as unknown as Array<{ spec?: { ingress?: Rule[] } }>;
  const fromMonitoring = policies.flatMap((p) =>
    (p.spec?.ingress ?? []).filter((rule) => rule.from?.some((peer) => peer.namespaceSelector?.matchLabels?.name === 'monitoring')),
  );
  t.is(fromMonitoring.length, 1);
  t.deepEqual(fromMonitoring[0]!.ports, [
    { protocol: 'TCP', port: 9464 },
    { protocol: 'TCP', port: 9999 },
  ]);
});

test('the schema rejects misspelt or malformed monitoring values', async (t) => {
  for (const set of ['metrics.serviceMonitor.enable=true', 'metrics.serviceMonitor.interval=soon', 'metrics.grafanaDashboard.label.x=y', 'metrics.proxyPort=0']) {
    await t.throwsAsync(render({ set: [set] }), { message: /schema/ }, set);
  }
});
