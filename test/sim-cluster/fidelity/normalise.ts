// What two clusters' answers to the same conversation have in common: values verbatim, except
// what differs between any two clusters (ids, times, addresses, generated names, the namespace,
// node names) and what the simulation deliberately does not model (each listed with its reason).
// Pure.

/** Keys whose string values differ between clusters by nature: compared by type. */
const VOLATILE = new Set(['uid', 'resourceVersion', 'continue', 'hostIP', 'podIP', 'ip', 'containerID', 'imageID', 'selfLink', 'reportingInstance']);

/**
 * Keys the simulation does not produce, and why that is fine: nothing of v6-node reads them, and
 * modelling them would be work without a user.
 */
export const NOT_MODELLED: Readonly<Record<string, string>> = {
  managedFields: 'server-side apply bookkeeping; the agent never applies or reads it',
};

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const UID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** A generated pod name's suffix: five characters of Kubernetes' name alphabet. */
const GENERATED_SUFFIX = /\b([a-z][a-z0-9-]*)-[bcdfghjklmnpqrstvwxz2-9]{5}\b/g;
const DIGEST = /sha256:[0-9a-f]{64}/g;
/** Durations and sizes in event messages ("in 1.2s (1.2s including waiting)", "Image size: 123 bytes"). */
const MEASURE = /\b\d+(\.\d+)?(ms|s|µs)\b|\b\d+ bytes\b/g;
/**
 * What a registry answered for an image it does not serve: its own words (a public one "not
 * found", the local cluster's, which wants credentials first, "401 Unauthorized").
 */
const REGISTRY_ANSWER = /(failed to resolve reference "[^"]*"): [^"]*?(?="|$)/g;

/** A function that normalises a value's strings for one conversation in namespace `ns`. */
export function normaliser(ns: string): (value: unknown) => unknown {
  const names = new Map<string, string>([[ns, 'NS']]);
  const text = (value: string): string => {
    let out = value;
    for (const [from, to] of names) out = out.split(from).join(to);
    return out.replace(UID, 'UID').replace(DIGEST, 'sha256:DIGEST').replace(GENERATED_SUFFIX, '$1-XXXXX').replace(MEASURE, 'N').replace(REGISTRY_ANSWER, '$1: REGISTRY ANSWER');
  };
  const walk = (value: unknown, key: string): unknown => {
    if (key in NOT_MODELLED) return undefined;
    if (typeof value === 'string') return VOLATILE.has(key) ? 'string' : TIMESTAMP.test(value) ? 'timestamp' : text(value);
    if (Array.isArray(value)) return value.map((item) => walk(item, ''));
    if (value !== null && typeof value === 'object') {
      const object = value as Record<string, unknown>;
      const entries = Object.keys(object)
        .sort()
        .map((k) => [text(k), walk(object[k], k)] as const)
        .filter(([, v]) => v !== undefined);
      return Object.fromEntries(entries);
    }
    return value;
  };
  // The node a pod runs on is the cluster's own name for it; learnt before any text is normalised.
  const learnNodes = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    const nodeName = (value as { spec?: { nodeName?: unknown } }).spec?.nodeName;
    if (typeof nodeName === 'string') names.set(nodeName, 'NODE');
    for (const child of Object.values(value)) learnNodes(child);
  };
  return (value) => {
    learnNodes(value);
    return walk(value, '');
  };
}

/** The normalised value as it is compared: the same value, JSON-clean (undefined dropped). */
export function shapeOf(value: unknown): unknown {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown);
}
