// The resource types the simulated API server serves: one row per plural, as discovery names them.

export interface ResourceType {
  /** URL segment, e.g. 'pods'. */
  readonly plural: string;
  readonly kind: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  /** Subresources served under `<plural>/<sub>`. */
  readonly subresources: readonly string[];
  /** Field selector keys beyond metadata.name and metadata.namespace, with their paths in the object. */
  readonly fields: Readonly<Record<string, readonly string[]>>;
}

const table: readonly ResourceType[] = [
  {
    plural: 'pods', kind: 'Pod', group: '', version: 'v1', namespaced: true, shortNames: ['po'],
    subresources: ['status', 'log'],
    fields: {
      'spec.nodeName': ['spec', 'nodeName'],
      'spec.restartPolicy': ['spec', 'restartPolicy'],
      'spec.serviceAccountName': ['spec', 'serviceAccountName'],
      'status.phase': ['status', 'phase'],
      'status.podIP': ['status', 'podIP'],
    },
  },
  { plural: 'secrets', kind: 'Secret', group: '', version: 'v1', namespaced: true, shortNames: [], subresources: [], fields: { type: ['type'] } },
  { plural: 'configmaps', kind: 'ConfigMap', group: '', version: 'v1', namespaced: true, shortNames: ['cm'], subresources: [], fields: {} },
  {
    plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', group: '', version: 'v1', namespaced: true,
    shortNames: ['pvc'], subresources: ['status'], fields: {},
  },
  {
    plural: 'events', kind: 'Event', group: '', version: 'v1', namespaced: true, shortNames: ['ev'], subresources: [],
    fields: {
      'involvedObject.kind': ['involvedObject', 'kind'],
      'involvedObject.name': ['involvedObject', 'name'],
      'involvedObject.uid': ['involvedObject', 'uid'],
      reason: ['reason'],
      type: ['type'],
    },
  },
  {
    plural: 'namespaces', kind: 'Namespace', group: '', version: 'v1', namespaced: false, shortNames: ['ns'],
    subresources: ['status'], fields: { 'status.phase': ['status', 'phase'] },
  },
  { plural: 'jobs', kind: 'Job', group: 'batch', version: 'v1', namespaced: true, shortNames: [], subresources: ['status'], fields: {} },
  // Create-only: the API server answers a review from its Authorizer and stores nothing.
  {
    plural: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview', group: 'authorization.k8s.io', version: 'v1',
    namespaced: false, shortNames: [], subresources: [], fields: {},
  },
  {
    plural: 'networkpolicies', kind: 'NetworkPolicy', group: 'networking.k8s.io', version: 'v1', namespaced: true,
    shortNames: ['netpol'], subresources: [], fields: {},
  },
];

const byPlural = new Map(table.map((r) => [r.plural, r]));

export const resourceTypes: readonly ResourceType[] = table;

/** The resource type for a plural, or undefined when the server does not serve it. */
export function resourceType(plural: string): ResourceType | undefined {
  return byPlural.get(plural);
}

/** The resource type whose kind (and, when given, group) matches, as ownerReferences name them. */
export function resourceTypeOfKind(kind: string, apiVersion?: string): ResourceType | undefined {
  const group = apiVersion === undefined ? undefined : apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  return table.find((r) => r.kind === kind && (group === undefined || r.group === group));
}

/** `apiVersion` as objects of this type carry it: 'v1' or 'batch/v1'. */
export function apiVersionOf(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

/** The name Kubernetes uses in messages: 'pods', 'jobs.batch'. */
export function qualifiedResource(type: ResourceType): string {
  return type.group === '' ? type.plural : `${type.plural}.${type.group}`;
}
