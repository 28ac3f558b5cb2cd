// Defaulting the API server applies to objects on create and update; pure, and idempotent.
import { badRequest } from './errors.js';
import type { KubeObject } from './store.js';

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(parent: Json, key: string): Json {
  const value = parent[key];
  if (isRecord(value)) return value;
  const created: Json = {};
  parent[key] = created;
  return created;
}

const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function defaultPodSpec(spec: Json, restartPolicy: string): void {
  spec['restartPolicy'] ??= restartPolicy;
  spec['terminationGracePeriodSeconds'] ??= 30;
  spec['dnsPolicy'] ??= 'ClusterFirst';
  spec['schedulerName'] ??= 'default-scheduler';
  spec['securityContext'] ??= {};
  for (const container of Array.isArray(spec['containers']) ? (spec['containers'] as unknown[]) : []) {
    if (!isRecord(container) || typeof container['image'] !== 'string') continue;
    const lastPart = container['image'].split('/').pop() ?? '';
    const tagged = lastPart.includes(':') && !lastPart.endsWith(':latest');
    container['imagePullPolicy'] ??= tagged || container['image'].includes('@') ? 'IfNotPresent' : 'Always';
    container['terminationMessagePath'] ??= '/dev/termination-log';
    container['terminationMessagePolicy'] ??= 'File';
    container['resources'] ??= {};
  }
}

/** Job defaults, including the controller-uid selector and template labels the server adds. */
function defaultJob(obj: KubeObject): void {
  const spec = record(obj, 'spec');
  const uid = obj.metadata.uid ?? '';
  spec['parallelism'] ??= 1;
  if (spec['completions'] === undefined) spec['completions'] = 1;
  spec['backoffLimit'] ??= 6;
  spec['completionMode'] ??= 'NonIndexed';
  spec['suspend'] ??= false;
  spec['manualSelector'] ??= false;
  spec['podReplacementPolicy'] ??= 'TerminatingOrFailed';
  const template = record(spec, 'template');
  const templateMeta = record(template, 'metadata');
  const labels = record(templateMeta, 'labels');
  if (spec['manualSelector'] !== true) {
    labels['batch.kubernetes.io/controller-uid'] ??= uid;
    labels['batch.kubernetes.io/job-name'] ??= obj.metadata.name ?? '';
    labels['controller-uid'] ??= uid;
    labels['job-name'] ??= obj.metadata.name ?? '';
    spec['selector'] ??= { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
  }
  if (isRecord(template['spec'])) defaultPodSpec(template['spec'], 'Always');
  obj['status'] ??= {};
}

/** Folds `stringData` into `data` and rejects data that is not base64, as decoding a Secret does (400). */
function decodeSecret(obj: KubeObject): void {
  obj['type'] ??= 'Opaque';
  const data = obj['data'];
  if (isRecord(data)) {
    for (const [key, value] of Object.entries(data)) {
      if (typeof value !== 'string' || !base64.test(value)) {
        throw badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (key ${key})`);
      }
    }
  }
  const stringData = obj['stringData'];
  if (isRecord(stringData)) {
    const merged = isRecord(data) ? data : {};
    for (const [key, value] of Object.entries(stringData)) merged[key] = Buffer.from(String(value)).toString('base64');
    obj['data'] = merged;
  }
  delete obj['stringData'];
}

/** ObjectMeta's collections that Go encodes with `omitempty`: empty ones are not in the object. */
const OMITTED_WHEN_EMPTY = ['labels', 'annotations', 'finalizers', 'ownerReferences'] as const;

/** Applies the server's defaults for `plural` in place. `obj.metadata.uid` must be set. */
export function applyDefaults(plural: string, obj: KubeObject): void {
  const meta = obj.metadata as Record<string, unknown>;
  for (const key of OMITTED_WHEN_EMPTY) {
    const value = meta[key];
    if (value !== null && typeof value === 'object' && Object.keys(value).length === 0) delete meta[key];
  }
  switch (plural) {
    case 'pods': {
      const spec = record(obj, 'spec');
      defaultPodSpec(spec, 'Always');
      spec['serviceAccountName'] ??= 'default';
      // The deprecated alias, still filled in; then what the default admission plugins add.
      spec['serviceAccount'] ??= spec['serviceAccountName'];
      spec['enableServiceLinks'] ??= true;
      spec['priority'] ??= 0;
      spec['preemptionPolicy'] ??= 'PreemptLowerPriority';
      // DefaultTolerationSeconds: 300 s on a not-ready or unreachable node, unless the pod says otherwise.
      const tolerations = Array.isArray(spec['tolerations']) ? (spec['tolerations'] as Json[]) : [];
      for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
        if (!tolerations.some((t) => t['key'] === key)) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
      }
      spec['tolerations'] = tolerations;
      const status = record(obj, 'status');
      status['phase'] ??= 'Pending';
      status['qosClass'] ??= 'BestEffort';
      break;
    }
    case 'jobs': defaultJob(obj); break;
    case 'secrets': decodeSecret(obj); break;
    case 'persistentvolumeclaims': {
      const spec = record(obj, 'spec');
      spec['volumeMode'] ??= 'Filesystem';
      record(obj, 'status')['phase'] ??= 'Pending';
      break;
    }
    case 'namespaces': {
      const labels = (obj.metadata.labels ??= {});
      labels['kubernetes.io/metadata.name'] = obj.metadata.name ?? '';
      record(obj, 'spec')['finalizers'] ??= ['kubernetes'];
      record(obj, 'status')['phase'] ??= 'Active';
      break;
    }
    case 'networkpolicies': {
      const spec = record(obj, 'spec');
      spec['podSelector'] ??= {};
      spec['policyTypes'] ??= ['Ingress', ...(spec['egress'] === undefined ? [] : ['Egress'])];
      break;
    }
  }
}
