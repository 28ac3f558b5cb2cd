// The simulated cluster's object store: what etcd plus the API server's registry and the
// garbage collector do, in process and synchronously. Controllers use it directly; the HTTP
// API server is a thin layer over it.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { applyDefaults } from './defaults.js';
import { ApiError, alreadyExists, badRequest, conflict, gone, invalid, notFound } from './errors.js';
import { apiVersionOf, resourceType, resourceTypeOfKind, type ResourceType } from './resources.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { validateObject } from './validate.js';

export { ApiError } from './errors.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [k: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A committed change. `plural`: 'pods' | 'jobs' | 'secrets' | 'configmaps' | 'persistentvolumeclaims' | 'networkpolicies' | 'events' | 'namespaces'. */
export interface StoreEvent {
  type: WatchEventType;
  plural: string;
  object: KubeObject;
  /** For MODIFIED: the object before the change (watches with selectors need it). */
  oldObject?: KubeObject;
}

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

export interface DeleteOptions {
  /** Default as the real server: Orphan for batch/v1 Jobs, Background for everything else. */
  propagationPolicy?: PropagationPolicy;
  /** The delete fails with 409 Conflict unless the object still has this uid / resourceVersion. */
  preconditions?: { uid?: string; resourceVersion?: string };
  /** A pod's grace period, instead of its `terminationGracePeriodSeconds`; 0 (the kubelet's last call) removes it. */
  gracePeriodSeconds?: number;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface StoreOptions {
  /** How many events are kept for watches resuming from a resourceVersion (default 1000). */
  historySize?: number;
  /** Clock for creationTimestamp and deletionTimestamp. */
  now?: () => number;
  /** Source of randomness in [0, 1) for generateName suffixes. */
  random?: () => number;
}

const FOREGROUND = 'foregroundDeletion';
// The alphabet Kubernetes draws generateName suffixes from (no vowels, no confusable characters).
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const MAX_GENERATED_BASE = 58;
const GENERATE_NAME_ATTEMPTS = 8;

function copy<T>(value: T): T {
  return structuredClone(value);
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The grace period of a pod's deletion, as the real pod strategy's CheckGracefulDelete has it: the
 * one asked for, else the pod's `terminationGracePeriodSeconds` (default 30); 0 for a pod no
 * kubelet runs (unscheduled, or finished), which then goes at once.
 */
function podGracePeriod(pod: KubeObject, requested: number | undefined): number {
  const spec = (pod['spec'] ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
  const phase = ((pod['status'] ?? {}) as { phase?: string }).phase;
  if (spec.nodeName === undefined || phase === 'Succeeded' || phase === 'Failed') return 0;
  return Math.max(requested ?? spec.terminationGracePeriodSeconds ?? 30, 0);
}

function keyOf(namespace: string | undefined, name: string): string {
  return namespace === undefined ? name : `${namespace}/${name}`;
}

export class Store {
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private readonly history: StoreEvent[] = [];
  private readonly historySize: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private revision = 0;
  /** Events up to and including this revision have been dropped from the history. */
  private compactedRevision = 0;

  constructor(options: StoreOptions = {}) {
    this.historySize = options.historySize ?? 1000;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  }

  /** The store's current resourceVersion, as a list response carries it. */
  get resourceVersion(): string {
    return String(this.revision);
  }

  /** Creates the object; `dryRun` (the API's `dryRun=All`) answers what would be stored, storing nothing. */
  create(plural: string, obj: KubeObject, options: { dryRun?: boolean } = {}): KubeObject {
    const type = this.type(plural);
    const draft = copy(obj);
    const meta = (draft.metadata ??= {});
    const namespace = this.scopeOf(type, meta.namespace);
    if (namespace !== undefined) this.requireNamespace(namespace);
    const generated = (meta.name === undefined || meta.name === '') && typeof meta.generateName === 'string' && meta.generateName !== '';
    for (let attempt = 0; ; attempt++) {
      if (generated) meta.name = this.generateName(meta.generateName!);
      const name = meta.name ?? '';
      if (!this.bucket(plural).has(keyOf(namespace, name))) break;
      if (!generated || attempt + 1 >= GENERATE_NAME_ATTEMPTS) throw alreadyExists(type, name);
    }
    draft.apiVersion = apiVersionOf(type);
    draft.kind = type.kind;
    if (namespace === undefined) delete meta.namespace;
    else meta.namespace = namespace;
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(this.now());
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if ('spec' in draft || type.plural === 'jobs') meta.generation = 1;
    applyDefaults(plural, draft);
    this.validate(type, draft);
    if (options.dryRun === true) return draft;
    meta.resourceVersion = this.nextRevision();
    this.bucket(plural).set(keyOf(namespace, meta.name!), draft);
    this.emit({ type: 'ADDED', plural, object: draft });
    this.collectIfOwnersGone(type, draft);
    return copy(this.bucket(plural).get(keyOf(namespace, meta.name!)) ?? draft);
  }

  get(plural: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const type = this.type(plural);
    const found = this.bucket(plural).get(keyOf(this.scopeOf(type, namespace), name));
    return found === undefined ? undefined : copy(found);
  }

  /** Objects in key order (namespace, then name); throws 400 BadRequest for a malformed selector. */
  list(plural: string, opts: ListOptions = {}): KubeObject[] {
    const type = this.type(plural);
    const byLabel = parseLabelSelector(opts.labelSelector);
    const byField = parseFieldSelector(type, opts.fieldSelector);
    const namespace = type.namespaced ? opts.namespace : undefined;
    return [...this.bucket(plural).entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, obj]) => obj)
      .filter((obj) => (namespace === undefined || obj.metadata.namespace === namespace) && byLabel(obj) && byField(obj))
      .map(copy);
  }

  /**
   * Applies `mutate` to a deep copy and commits it: name, namespace, uid, creationTimestamp and
   * deletionTimestamp cannot change; resourceVersion is bumped (and generation when spec changed,
   * except through `binding: true`, a pod's binding to a node, which the real API server does not
   * count) and MODIFIED emitted only if something changed. 404 when absent; `mutate` may throw to abort.
   */
  update(plural: string, namespace: string | undefined, name: string, mutate: (draft: KubeObject) => void, options: { binding?: boolean } = {}): KubeObject {
    const type = this.type(plural);
    const scope = this.scopeOf(type, namespace);
    const current = this.bucket(plural).get(keyOf(scope, name));
    if (current === undefined) throw notFound(type, name);
    const draft = copy(current);
    mutate(draft);
    const meta = (draft.metadata ??= {});
    for (const key of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'resourceVersion'] as const) {
      if (current.metadata[key] === undefined) delete meta[key];
      else (meta as Record<string, unknown>)[key] = current.metadata[key];
    }
    draft.apiVersion = current.apiVersion;
    draft.kind = current.kind;
    applyDefaults(plural, draft);
    if (isDeepStrictEqual(draft, current)) return copy(current);
    this.validate(type, draft);
    if (current.metadata.deletionTimestamp !== undefined) {
      const added = (meta.finalizers ?? []).filter((f) => !(current.metadata.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw invalid(type, name, [{ reason: 'FieldValueForbidden', message: 'Forbidden: no new finalizers can be added if the object is being deleted', field: 'metadata.finalizers' }]);
      }
    }
    if (meta.generation !== undefined && options.binding !== true && !isDeepStrictEqual(draft['spec'], current['spec'])) meta.generation += 1;
    meta.resourceVersion = this.nextRevision();
    this.bucket(plural).set(keyOf(scope, name), draft);
    this.emit({ type: 'MODIFIED', plural, object: draft, oldObject: current });
    // The last finalizer gone from an object being deleted removes it, once no grace period holds it.
    if (meta.deletionTimestamp !== undefined && (meta.finalizers ?? []).length === 0 && (meta.deletionGracePeriodSeconds ?? 0) === 0) this.remove(type, draft);
    return copy(draft);
  }

  /**
   * Deletes an object and garbage-collects its dependents (ownerReferences, uid-checked).
   * Returns undefined when the object does not exist; otherwise the object as last stored (with
   * deletionTimestamp when finalizers keep it, e.g. Foreground deletion with dependents left).
   */
  delete(plural: string, namespace: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject | undefined {
    const type = this.type(plural);
    const scope = this.scopeOf(type, namespace);
    const current = this.bucket(plural).get(keyOf(scope, name));
    if (current === undefined) return undefined;
    const pre = opts.preconditions ?? {};
    if (pre.uid !== undefined && pre.uid !== current.metadata.uid) {
      throw conflict(type, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
    }
    if (pre.resourceVersion !== undefined && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(type, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`);
    }
    if (current.metadata.deletionTimestamp !== undefined) {
      if (opts.gracePeriodSeconds === 0 && (current.metadata.deletionGracePeriodSeconds ?? 0) > 0) this.endGracePeriod(type, current);
      return this.get(plural, scope, name) ?? copy(current);
    }
    const uid = current.metadata.uid!;
    let removed: KubeObject | undefined;
    const unsubscribe = this.on((event) => {
      if (event.type === 'DELETED' && event.object.metadata.uid === uid) removed = event.object;
    });
    try {
      this.propagateDelete(type, current, opts.propagationPolicy ?? (plural === 'jobs' ? 'Orphan' : 'Background'), opts.gracePeriodSeconds);
    } finally {
      unsubscribe();
    }
    return removed ?? this.get(plural, scope, name);
  }

  private propagateDelete(type: ResourceType, current: KubeObject, policy: PropagationPolicy, gracePeriodSeconds: number | undefined): void {
    const { namespace, name } = current.metadata as { namespace?: string; name: string };
    if (policy === 'Orphan') {
      for (const dep of this.dependentsOf(current)) this.dropOwnerRef(dep.plural, dep.object, current.metadata.uid!);
    }
    if (type.plural === 'namespaces') {
      this.markDeleting(type, current, (draft) => {
        (draft['status'] as Record<string, unknown>)['phase'] = 'Terminating';
      });
      for (const [plural, bucket] of this.objects) {
        if (!this.type(plural).namespaced) continue;
        for (const obj of [...bucket.values()].filter((o) => o.metadata.namespace === name)) {
          this.delete(plural, name, obj.metadata.name!, { propagationPolicy: 'Background' });
        }
      }
    } else if (policy === 'Foreground') {
      this.markDeleting(type, current, (draft) => {
        draft.metadata.finalizers = [...(draft.metadata.finalizers ?? []), FOREGROUND];
      });
      for (const dep of this.dependentsOf(current)) {
        const policy = this.dependentsOf(dep.object).length > 0 ? 'Foreground' : 'Background';
        this.delete(dep.plural, dep.object.metadata.namespace, dep.object.metadata.name!, { propagationPolicy: policy });
      }
    } else {
      this.markDeleting(type, current, undefined, type.plural === 'pods' ? podGracePeriod(current, gracePeriodSeconds) : 0);
      return;
    }
    this.finishIfReady(type, namespace, name);
  }

  /** Subscribes to committed changes; listeners run synchronously. Returns the unsubscribe function. */
  on(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /**
   * Events after `resourceVersion` for a watch resuming there (all plurals; callers filter).
   * 410 Expired when the history no longer reaches back that far, 400 when it is not a version.
   */
  eventsSince(resourceVersion: string): StoreEvent[] {
    if (!/^\d+$/.test(resourceVersion)) throw badRequest(`resourceVersion: Invalid value: "${resourceVersion}": must be a valid resource version`);
    const since = Number(resourceVersion);
    if (since < this.compactedRevision) throw gone(`too old resource version: ${since} (${this.compactedRevision + 1})`);
    return this.history.filter((e) => Number(e.object.metadata.resourceVersion) > since).map(copy);
  }

  private type(plural: string): ResourceType {
    const type = resourceType(plural);
    if (type === undefined) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${plural})`);
    return type;
  }

  private scopeOf(type: ResourceType, namespace: string | undefined): string | undefined {
    if (!type.namespaced) return undefined;
    return namespace === undefined || namespace === '' ? 'default' : namespace;
  }

  private bucket(plural: string): Map<string, KubeObject> {
    let bucket = this.objects.get(plural);
    if (bucket === undefined) {
      bucket = new Map();
      this.objects.set(plural, bucket);
    }
    return bucket;
  }

  private requireNamespace(namespace: string): void {
    const ns = this.bucket('namespaces').get(namespace);
    if (ns === undefined) throw notFound(this.type('namespaces'), namespace);
    if (ns.metadata.deletionTimestamp !== undefined) {
      throw new ApiError(403, 'Forbidden', `unable to create new content in namespace ${namespace} because it is being terminated`, {
        name: namespace,
        kind: 'namespaces',
      });
    }
  }

  private generateName(base: string): string {
    let suffix = '';
    for (let i = 0; i < 5; i++) suffix += SUFFIX_ALPHABET[Math.floor(this.random() * SUFFIX_ALPHABET.length)];
    return base.slice(0, MAX_GENERATED_BASE) + suffix;
  }

  private validate(type: ResourceType, obj: KubeObject): void {
    const causes = validateObject(type, obj);
    if (causes.length > 0) throw invalid(type, obj.metadata.name ?? obj.metadata.generateName ?? '', causes);
  }

  private nextRevision(): string {
    this.revision += 1;
    return String(this.revision);
  }

  private emit(event: StoreEvent): void {
    const stored = copy(event);
    this.history.push(stored);
    while (this.history.length > this.historySize) {
      const dropped = this.history.shift()!;
      this.compactedRevision = Number(dropped.object.metadata.resourceVersion);
    }
    for (const listener of [...this.listeners]) listener(copy(stored));
  }

  /**
   * Sets deletionTimestamp (applying `change` in the same write) when finalizers or a grace period
   * hold the object, or it is a namespace, which waits until it is empty; otherwise removes it
   * outright. A pod's grace period puts its deletionTimestamp that far ahead, as the real server
   * does; its kubelet ends the period once the containers have stopped (`endGracePeriod`).
   */
  private markDeleting(type: ResourceType, obj: KubeObject, change?: (draft: KubeObject) => void, gracePeriodSeconds = 0): void {
    const stored = copy(obj);
    change?.(stored);
    if ((stored.metadata.finalizers ?? []).length === 0 && gracePeriodSeconds === 0 && type.plural !== 'namespaces') {
      this.remove(type, obj);
      return;
    }
    stored.metadata.deletionTimestamp = rfc3339(this.now() + gracePeriodSeconds * 1000);
    stored.metadata.deletionGracePeriodSeconds = gracePeriodSeconds;
    // A pod's graceful deletion is a generation of its own (its kubelet reports observedGeneration).
    if (gracePeriodSeconds > 0 && stored.metadata.generation !== undefined) stored.metadata.generation += 1;
    stored.metadata.resourceVersion = this.nextRevision();
    this.bucket(type.plural).set(keyOf(stored.metadata.namespace, stored.metadata.name!), stored);
    this.emit({ type: 'MODIFIED', plural: type.plural, object: stored, oldObject: obj });
  }

  /**
   * A delete with grace period 0 of an object in its grace period: the object goes now, unless
   * finalizers still hold it (then its deletionGracePeriodSeconds becomes 0 and it waits for them).
   */
  private endGracePeriod(type: ResourceType, obj: KubeObject): void {
    const ended = copy(obj);
    ended.metadata.deletionTimestamp = rfc3339(this.now());
    ended.metadata.deletionGracePeriodSeconds = 0;
    if ((ended.metadata.finalizers ?? []).length === 0) {
      this.remove(type, ended);
      return;
    }
    ended.metadata.resourceVersion = this.nextRevision();
    this.bucket(type.plural).set(keyOf(ended.metadata.namespace, ended.metadata.name!), ended);
    this.emit({ type: 'MODIFIED', plural: type.plural, object: ended, oldObject: obj });
  }

  /** Removes the object, then collects dependents left without owners and completes waiting owners. */
  private remove(type: ResourceType, obj: KubeObject): void {
    const key = keyOf(obj.metadata.namespace, obj.metadata.name!);
    if (!this.bucket(type.plural).delete(key)) return;
    const gone = copy(obj);
    gone.metadata.resourceVersion = this.nextRevision();
    this.emit({ type: 'DELETED', plural: type.plural, object: gone });
    for (const dep of this.dependentsOf(gone)) this.collectIfOwnersGone(this.type(dep.plural), dep.object);
    for (const ref of gone.metadata.ownerReferences ?? []) {
      const ownerType = resourceTypeOfKind(ref.kind, ref.apiVersion);
      if (ownerType !== undefined) this.finishIfReady(ownerType, this.scopeOf(ownerType, gone.metadata.namespace), ref.name);
    }
    if (gone.metadata.namespace !== undefined) this.finishIfReady(this.type('namespaces'), undefined, gone.metadata.namespace);
  }

  /** Completes a Foreground deletion (or a namespace's) once nothing it waits for remains. */
  private finishIfReady(type: ResourceType, namespace: string | undefined, name: string): void {
    const owner = this.bucket(type.plural).get(keyOf(namespace, name));
    if (owner === undefined || owner.metadata.deletionTimestamp === undefined) return;
    if (type.plural === 'namespaces') {
      const empty = [...this.objects.entries()].every(([plural, bucket]) =>
        !this.type(plural).namespaced || [...bucket.values()].every((o) => o.metadata.namespace !== name));
      if (empty) this.remove(type, owner);
      return;
    }
    if (!(owner.metadata.finalizers ?? []).includes(FOREGROUND) || this.dependentsOf(owner).length > 0) return;
    this.update(type.plural, namespace, name, (draft) => {
      const kept = (draft.metadata.finalizers ?? []).filter((f) => f !== FOREGROUND);
      if (kept.length === 0) delete draft.metadata.finalizers;
      else draft.metadata.finalizers = kept;
    });
  }

  /** Objects with an ownerReference to `owner` by uid. */
  private dependentsOf(owner: KubeObject): Array<{ plural: string; object: KubeObject }> {
    const found: Array<{ plural: string; object: KubeObject }> = [];
    for (const [plural, bucket] of this.objects) {
      for (const object of bucket.values()) {
        if (owner.metadata.namespace !== undefined && object.metadata.namespace !== owner.metadata.namespace) continue;
        if ((object.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid)) found.push({ plural, object });
      }
    }
    return found;
  }

  private ownerExists(dependent: KubeObject, ref: OwnerReference): boolean {
    const ownerType = resourceTypeOfKind(ref.kind, ref.apiVersion);
    if (ownerType === undefined) return true; // not ours to judge: kinds this cluster does not serve
    const owner = this.bucket(ownerType.plural).get(keyOf(this.scopeOf(ownerType, dependent.metadata.namespace), ref.name));
    return owner !== undefined && owner.metadata.uid === ref.uid;
  }

  /** The garbage collector's rule: a dependent whose owners are all gone is deleted; dead refs are dropped otherwise. */
  private collectIfOwnersGone(type: ResourceType, obj: KubeObject): void {
    const refs = obj.metadata.ownerReferences ?? [];
    if (refs.length === 0) return;
    const dead = refs.filter((r) => !this.ownerExists(obj, r));
    if (dead.length === 0) return;
    if (dead.length === refs.length) {
      this.delete(type.plural, obj.metadata.namespace, obj.metadata.name!, { propagationPolicy: 'Background' });
      return;
    }
    for (const ref of dead) this.dropOwnerRef(type.plural, obj, ref.uid);
  }

  private dropOwnerRef(plural: string, obj: KubeObject, ownerUid: string): void {
    if (!this.bucket(plural).has(keyOf(obj.metadata.namespace, obj.metadata.name!))) return;
    this.update(plural, obj.metadata.namespace, obj.metadata.name!, (draft) => {
      const kept = (draft.metadata.ownerReferences ?? []).filter((r) => r.uid !== ownerUid);
      if (kept.length === 0) delete draft.metadata.ownerReferences;
      else draft.metadata.ownerReferences = kept;
    });
  }
}
