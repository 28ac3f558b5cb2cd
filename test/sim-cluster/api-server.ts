// The simulated cluster's HTTP API server: REST, watch and discovery over the Store, with
// Kubernetes Status errors and injectable faults.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Authorizer, requestVerb, type AccessAttributes } from './authorization.js';
import type { PodLogStreamer } from './controllers.js';
import { apiGroup, apiGroupList, apiResourceList, coreVersions, serverVersion } from './discovery.js';
import { ApiError, badRequest, conflict, forbidden, internalError, invalid, methodNotAllowed, notFound } from './errors.js';
import type { Faults } from './faults.js';
import { applyPatch } from './patch.js';
import { apiVersionOf, resourceType, type ResourceType } from './resources.js';
import { parseRoute } from './routes.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { DeleteOptions, KubeObject, PropagationPolicy, Store } from './store.js';
import { validateUpdate } from './validate.js';
import { serveWatch } from './watch.js';

export interface ApiServerOptions {
  store: Store;
  faults: Faults;
  /** Who may do what; default everyone everything. */
  authorizer?: Authorizer;
  /** Interval of BOOKMARK events on watches that allow them (default 1000 ms; the real server uses about a minute). */
  bookmarkIntervalMs?: number;
  /** Serves `GET pods/{name}/log`; without it every log request answers that the container is waiting. */
  streamPodLog?: PodLogStreamer;
}

type ResourceRoute = { type: ResourceType; namespace?: string; name?: string; subresource?: string };

const propagationPolicies: readonly PropagationPolicy[] = ['Background', 'Foreground', 'Orphan'];

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The JSON body of a request; 415 for other encodings (protobuf, CBOR, YAML), 400 when malformed. */
async function readBody(req: IncomingMessage): Promise<unknown> {
  const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
  if (!/^application\/([a-z-]+\+)?json$/.test(contentType)) {
    req.resume();
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/merge-patch+json, application/strategic-merge-patch+json, application/json-patch+json (got ${contentType})`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(error as Error).message}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object in a create/replace body; 400 when it is not one or names another kind or namespace. */
function bodyObject(body: unknown, route: ResourceRoute): KubeObject {
  if (!isRecord(body)) throw badRequest('the body of the request must be a JSON object');
  const kind = body['kind'];
  if (kind !== undefined && kind !== route.type.kind) {
    throw badRequest(`${route.type.kind} in version "${route.type.version}" cannot be handled as a ${route.type.kind}: kind ${String(kind)} does not match`);
  }
  const metadata = isRecord(body['metadata']) ? body['metadata'] : {};
  if (route.type.namespaced && metadata['namespace'] !== undefined && metadata['namespace'] !== '' && metadata['namespace'] !== route.namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  return { ...body, apiVersion: apiVersionOf(route.type), kind: route.type.kind, metadata: { ...metadata, ...(route.type.namespaced ? { namespace: route.namespace } : {}) } };
}

const objectKey = (obj: KubeObject) => `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;

/**
 * A list's page as `limit` and `continue` ask for it: at most `limit` items from the one after
 * the continue token's key on, and a token for the rest (opaque to clients; here the last key
 * served). Without a selector the real server also counts what is left (`remainingItemCount`).
 */
function pageOf(items: KubeObject[], query: URLSearchParams, resourceVersion: string): { items: KubeObject[]; metadata: Record<string, unknown> } {
  const token = query.get('continue');
  let after: string | undefined;
  if (token !== null && token !== '') {
    try {
      after = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { start: string }).start;
    } catch {
      throw badRequest('continue key is not valid: illegal base64 data at input byte 0');
    }
    if (typeof after !== 'string') throw badRequest('continue key is not valid: no start key');
  }
  const rest = after === undefined ? items : items.filter((obj) => objectKey(obj) > after);
  const limit = Number(query.get('limit') ?? '0');
  if (!(limit > 0) || rest.length <= limit) return { items: rest, metadata: { resourceVersion } };
  const page = rest.slice(0, limit);
  const selected = query.get('labelSelector') !== null || query.get('fieldSelector') !== null;
  return {
    items: page,
    metadata: {
      resourceVersion,
      continue: Buffer.from(JSON.stringify({ rv: resourceVersion, start: objectKey(page.at(-1)!) })).toString('base64url'),
      ...(selected ? {} : { remainingItemCount: rest.length - limit }),
    },
  };
}

/** Objects in a list come without apiVersion and kind, as the real server encodes them. */
function listItem(obj: KubeObject): Omit<KubeObject, 'apiVersion' | 'kind'> {
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

export class ApiServer {
  private readonly server: Server;
  private readonly store: Store;
  private readonly faults: Faults;
  private readonly authorizer: Authorizer;
  private readonly bookmarkIntervalMs: number;
  private readonly streamPodLog: PodLogStreamer | undefined;
  private readonly watches = new Set<() => void>();
  private closing: Promise<void> | undefined;
  private readonly counts = { connections: 0, requests: 0 };

  constructor(options: ApiServerOptions) {
    this.store = options.store;
    this.faults = options.faults;
    this.authorizer = options.authorizer ?? new Authorizer();
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.streamPodLog = options.streamPodLog;
    this.server = createServer((req, res) => {
      this.counts.requests += 1;
      this.handle(req, res).catch((error: unknown) => this.fail(res, error));
    });
    this.server.on('connection', () => (this.counts.connections += 1));
  }

  /** TCP connections accepted and requests served so far (what the bench counts per client). */
  traffic(): { connections: number; requests: number } {
    return { ...this.counts };
  }

  /** Listens on 127.0.0.1; port 0 picks a free one. Resolves to the port. */
  async listen(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.port;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Ends every watch and connection; idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const end of [...this.watches]) end();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  private fail(res: ServerResponse, error: unknown): void {
    const apiError = error instanceof ApiError ? error : internalError(error instanceof Error ? error.message : String(error));
    if (!(error instanceof ApiError)) console.error('sim-cluster: unexpected error', error);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, apiError.code, apiError.toStatus());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = parseRoute(url.pathname);
    switch (route.kind) {
      case 'version': return sendJson(res, 200, serverVersion);
      case 'health': {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
        return;
      }
      case 'coreVersions': return sendJson(res, 200, coreVersions(`127.0.0.1:${this.port}`));
      case 'groups': return sendJson(res, 200, apiGroupList());
      case 'group': return sendJson(res, 200, apiGroup(route.group));
      case 'resources': return sendJson(res, 200, apiResourceList(route.group, route.version));
      case 'unknown': throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      case 'resource': break;
    }
    if (this.faults.takeInternalError()) throw internalError('injected fault');
    const method = req.method ?? 'GET';
    const { type, name, subresource } = route;
    const watch = url.searchParams.get('watch');
    const attributes: AccessAttributes = {
      verb: requestVerb(method, name !== undefined, watch === 'true' || watch === '1'),
      group: type.group,
      resource: type.plural,
      subresource,
      // As the real request-info resolver: a namespace object is addressed in its own namespace.
      namespace: type.plural === 'namespaces' ? name : route.namespace,
      name,
    };
    if (!this.authorizer.allows(attributes)) throw forbidden(Authorizer.forbiddenMessage(attributes), type, name);
    if (type.plural === 'selfsubjectaccessreviews') {
      if (method !== 'POST' || name !== undefined) throw methodNotAllowed(`${method} is not supported on ${type.plural}`);
      return this.review(req, res);
    }
    if (subresource !== undefined && !type.subresources.includes(subresource)) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (type.namespaced && route.namespace === undefined && !(method === 'GET' && name === undefined)) {
      throw methodNotAllowed(`${method} is not supported on ${type.plural} across all namespaces`);
    }
    if (subresource === 'log') {
      if (method !== 'GET') throw methodNotAllowed(`${method} is not supported on pods/log`);
      return this.podLog(res, route, url.searchParams);
    }
    if (name === undefined) {
      if (method === 'GET') return this.listOrWatch(req, res, route, url.searchParams);
      if (method === 'POST') return this.create(req, res, route, url.searchParams);
      if (method === 'DELETE') return this.deleteCollection(req, res, route, url.searchParams);
    } else {
      if (method === 'GET') return sendJson(res, 200, this.getOr404(route, name));
      if (method === 'PUT') return this.replace(req, res, route, name);
      if (method === 'PATCH') return this.patch(req, res, route, name);
      if (method === 'DELETE' && subresource === undefined) return this.deleteOne(req, res, route, name, url.searchParams);
    }
    throw methodNotAllowed(`${method} is not supported on this resource`);
  }

  private getOr404(route: ResourceRoute, name: string): KubeObject {
    const found = this.store.get(route.type.plural, route.namespace, name);
    if (found === undefined) throw notFound(route.type, name);
    return found;
  }

  private listOrWatch(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, query: URLSearchParams): void {
    const { type, namespace } = route;
    const byLabel = parseLabelSelector(query.get('labelSelector') ?? undefined);
    const byField = parseFieldSelector(type, query.get('fieldSelector') ?? undefined);
    // As the real API server: any value but 0 and false asks for a watch (`watch=True` included).
    const watch = query.get('watch');
    if (watch !== null && watch !== '0' && watch !== 'false') {
      const timeout = query.get('timeoutSeconds');
      const end = serveWatch(req, res, {
        type,
        ...(namespace === undefined ? {} : { namespace }),
        matches: (obj) => (namespace === undefined || obj.metadata.namespace === namespace) && byLabel(obj) && byField(obj),
        ...(query.get('resourceVersion') === null ? {} : { resourceVersion: query.get('resourceVersion')! }),
        allowWatchBookmarks: query.get('allowWatchBookmarks') === 'true',
        ...(timeout === null ? {} : { timeoutSeconds: Number(timeout) }),
      }, { store: this.store, faults: this.faults, bookmarkIntervalMs: this.bookmarkIntervalMs });
      this.watches.add(end);
      res.on('close', () => this.watches.delete(end));
      return;
    }
    const resourceVersion = this.store.resourceVersion;
    const items = this.store.list(type.plural, {
      ...(namespace === undefined ? {} : { namespace }),
      ...(query.get('labelSelector') === null ? {} : { labelSelector: query.get('labelSelector')! }),
      ...(query.get('fieldSelector') === null ? {} : { fieldSelector: query.get('fieldSelector')! }),
    });
    const page = pageOf(items, query, resourceVersion);
    sendJson(res, 200, { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: page.metadata, items: page.items.map(listItem) });
  }

  /** A SelfSubjectAccessReview: the spec's resource attributes judged by the authorizer; nothing is stored. */
  private async review(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const spec = isRecord(body) && isRecord(body['spec']) ? body['spec'] : {};
    const attrs = isRecord(spec['resourceAttributes']) ? spec['resourceAttributes'] : undefined;
    if (attrs === undefined) throw invalid(resourceType('selfsubjectaccessreviews')!, '', [{ reason: 'FieldValueRequired', message: 'exactly one of nonResourceAttributes or resourceAttributes must be specified', field: 'spec.resourceAttributes' }]);
    const text = (key: string): string | undefined => (typeof attrs[key] === 'string' && attrs[key] !== '' ? (attrs[key] as string) : undefined);
    const allowed = this.authorizer.allows({
      verb: text('verb') ?? '',
      group: text('group') ?? '',
      resource: text('resource') ?? '',
      subresource: text('subresource'),
      namespace: text('namespace'),
      name: text('name'),
    });
    sendJson(res, 201, {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: {},
      spec,
      // Allowed as the cluster admin is (group system:masters): without a reason.
      status: allowed ? { allowed: true } : { allowed: false, reason: 'denied by a test' },
    });
  }

  private async create(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, query: URLSearchParams): Promise<void> {
    const object = bodyObject(await readBody(req), route);
    if (query.get('dryRun') === 'All') return sendJson(res, 201, this.store.create(route.type.plural, object, { dryRun: true }));
    const created = this.store.create(route.type.plural, object);
    if (this.faults.takeLostCreate(route.type.plural)) {
      res.socket?.destroy();
      return;
    }
    sendJson(res, 201, created);
  }

  /**
   * Turns `draft` (the stored object) into `next` as an update through the API: optimistic
   * concurrency on resourceVersion, status kept on the main resource and spec kept on /status,
   * immutable fields enforced.
   */
  private applyUpdate(route: ResourceRoute, name: string, draft: KubeObject, next: KubeObject): void {
    const { type, subresource } = route;
    const given = next.metadata.resourceVersion;
    if (given !== undefined && given !== '' && given !== draft.metadata.resourceVersion) {
      throw conflict(type, name, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    if (next.metadata.name !== undefined && next.metadata.name !== name) {
      throw badRequest(`the name of the object (${String(next.metadata.name)}) does not match the name on the URL (${name})`);
    }
    const before = structuredClone(draft);
    for (const key of Object.keys(draft)) delete draft[key];
    Object.assign(draft, structuredClone(next));
    if (type.subresources.includes('status')) {
      const kept = subresource === 'status' ? 'spec' : 'status';
      if (before[kept] === undefined) delete draft[kept];
      else draft[kept] = before[kept];
    }
    const causes = validateUpdate(type, before, draft);
    if (causes.length > 0) throw invalid(type, name, causes);
  }

  private async replace(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, name: string): Promise<void> {
    const next = bodyObject(await readBody(req), route);
    const updated = this.store.update(route.type.plural, route.namespace, name, (draft) => this.applyUpdate(route, name, draft, next));
    sendJson(res, 200, updated);
  }

  private async patch(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, name: string): Promise<void> {
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const body = await readBody(req);
    const updated = this.store.update(route.type.plural, route.namespace, name, (draft) => {
      const patched = applyPatch(contentType, draft, body);
      this.applyUpdate(route, name, draft, bodyObject(patched, route));
    });
    sendJson(res, 200, updated);
  }

  /** DeleteOptions from the body, with query parameters taking precedence. */
  private async deleteOptions(req: IncomingMessage, query: URLSearchParams): Promise<DeleteOptions> {
    const body = await readBody(req);
    const options = isRecord(body) ? body : {};
    const policy = query.get('propagationPolicy') ?? options['propagationPolicy'] ?? (options['orphanDependents'] === true ? 'Orphan' : undefined);
    if (policy !== undefined && !propagationPolicies.includes(policy as PropagationPolicy)) {
      throw badRequest(`propagationPolicy: Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan"`);
    }
    const preconditions = isRecord(options['preconditions']) ? (options['preconditions'] as DeleteOptions['preconditions']) : undefined;
    const grace = query.get('gracePeriodSeconds') ?? options['gracePeriodSeconds'];
    const gracePeriodSeconds = grace === undefined || grace === null ? undefined : Number(grace);
    if (gracePeriodSeconds !== undefined && !Number.isInteger(gracePeriodSeconds)) {
      throw badRequest(`gracePeriodSeconds: Invalid value: ${JSON.stringify(grace)}: must be an integer`);
    }
    return {
      ...(policy === undefined ? {} : { propagationPolicy: policy as PropagationPolicy }),
      ...(preconditions === undefined ? {} : { preconditions }),
      ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }),
    };
  }

  private async deleteOne(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, name: string, query: URLSearchParams): Promise<void> {
    const options = await this.deleteOptions(req, query);
    const result = this.store.delete(route.type.plural, route.namespace, name, options);
    if (result === undefined) throw notFound(route.type, name);
    const stillThere = this.store.get(route.type.plural, route.namespace, name)?.metadata.uid === result.metadata.uid;
    if (stillThere) return sendJson(res, 202, result);
    sendJson(res, 200, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, ...(route.type.group === '' ? {} : { group: route.type.group }), kind: route.type.plural, uid: result.metadata.uid },
    });
  }

  private async deleteCollection(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, query: URLSearchParams): Promise<void> {
    const options = await this.deleteOptions(req, query);
    const targets = this.store.list(route.type.plural, {
      ...(route.namespace === undefined ? {} : { namespace: route.namespace }),
      ...(query.get('labelSelector') === null ? {} : { labelSelector: query.get('labelSelector')! }),
      ...(query.get('fieldSelector') === null ? {} : { fieldSelector: query.get('fieldSelector')! }),
    });
    const deleted = targets.flatMap((obj) => this.store.delete(route.type.plural, obj.metadata.namespace, obj.metadata.name!, options) ?? []);
    sendJson(res, 200, { kind: `${route.type.kind}List`, apiVersion: apiVersionOf(route.type), metadata: { resourceVersion: this.store.resourceVersion }, items: deleted.map(listItem) });
  }

  private async podLog(res: ServerResponse, route: ResourceRoute, query: URLSearchParams): Promise<void> {
    const name = route.name!;
    const pod = this.getOr404(route, name);
    const spec = isRecord(pod['spec']) ? pod['spec'] : {};
    const containers = (Array.isArray(spec['containers']) ? spec['containers'] : []).map((c: { name?: string }) => c.name ?? '');
    const container = query.get('container') ?? (containers.length === 1 ? containers[0]! : undefined);
    if (container === undefined) throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
    if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
    if (this.streamPodLog === undefined) throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
    const tail = query.get('tailLines');
    const stream = this.streamPodLog(route.namespace ?? 'default', name, container, {
      follow: query.get('follow') === 'true' || query.get('follow') === '1',
      timestamps: query.get('timestamps') === 'true',
      ...(tail === null ? {} : { tailLines: Number(tail) }),
      ...(query.get('sinceTime') === null ? {} : { sinceTime: query.get('sinceTime')! }),
    });
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.on('close', () => stream.destroy());
    stream.on('error', () => res.destroy());
    const limit = query.get('limitBytes');
    if (limit === null) {
      stream.pipe(res);
      return;
    }
    // As the kubelet: the first limitBytes bytes, then the answer ends (mid-line if need be).
    let left = Number(limit);
    stream.on('data', (chunk: Buffer | string) => {
      const bytes = Buffer.from(chunk);
      res.write(bytes.subarray(0, left));
      left -= Math.min(left, bytes.length);
      if (left === 0) stream.destroy();
    });
    stream.on('close', () => res.end());
  }
}
