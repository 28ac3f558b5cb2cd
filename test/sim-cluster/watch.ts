// One watch connection: newline-delimited JSON events from a resourceVersion on, with bookmarks,
// a server-side timeout and selector-aware event types, as the API server streams them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './errors.js';
import type { Faults } from './faults.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import type { Predicate } from './selectors.js';
import type { KubeObject, Store, StoreEvent } from './store.js';

export type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: KubeObject }
  | { type: 'ERROR'; object: ReturnType<ApiError['toStatus']> };

/**
 * What a watch with selector `matches` sees of a store event: an object entering the selection
 * is ADDED, one leaving it DELETED, as the API server's watch cache reports it.
 */
export function watchEventFor(event: StoreEvent, plural: string, matches: Predicate): WatchEvent | undefined {
  if (event.plural !== plural) return undefined;
  const now = matches(event.object);
  if (event.type !== 'MODIFIED') return now ? { type: event.type, object: event.object } : undefined;
  const before = event.oldObject !== undefined && matches(event.oldObject);
  if (now) return { type: before ? 'MODIFIED' : 'ADDED', object: event.object };
  return before ? { type: 'DELETED', object: event.object } : undefined;
}

export interface WatchRequest {
  type: ResourceType;
  namespace?: string;
  /** Label, field and namespace selection combined. */
  matches: Predicate;
  /** Unset or '0': start with ADDED for every existing object; otherwise resume after it. */
  resourceVersion?: string;
  allowWatchBookmarks: boolean;
  timeoutSeconds?: number;
}

export interface WatchContext {
  store: Store;
  faults: Faults;
  bookmarkIntervalMs: number;
}

/** The events a watch starts with; throws 410 Expired (or 400) for a resourceVersion it cannot resume from. */
function initialEvents(request: WatchRequest, context: WatchContext): WatchEvent[] {
  const { store, faults } = context;
  const rv = request.resourceVersion;
  if (rv === undefined || rv === '' || rv === '0') {
    return store
      .list(request.type.plural, request.namespace === undefined ? {} : { namespace: request.namespace })
      .filter(request.matches)
      .map((object) => ({ type: 'ADDED', object }));
  }
  if (faults.takeExpiredWatch()) throw new ApiError(410, 'Expired', `too old resource version: ${rv} (${store.resourceVersion})`);
  return store.eventsSince(rv).flatMap((e) => watchEventFor(e, request.type.plural, request.matches) ?? []);
}

/**
 * Serves a watch on `res`. A resourceVersion that cannot be resumed answers 400 before streaming;
 * an expired one streams an ERROR event with the 410 Status and ends, as the real server does.
 * Returns a function that ends the stream (used when the server closes).
 */
export function serveWatch(req: IncomingMessage, res: ServerResponse, request: WatchRequest, context: WatchContext): () => void {
  const cleanups: Array<() => void> = [];
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    for (const cleanup of cleanups) cleanup();
  };
  const send = (event: WatchEvent): void => {
    if (!finished && !res.destroyed) res.write(`${JSON.stringify(event)}\n`);
  };
  const end = (): void => {
    finish();
    if (!res.writableEnded) res.end();
  };

  let initial: WatchEvent[];
  let expired: ApiError | undefined;
  try {
    initial = initialEvents(request, context);
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 410) throw error;
    initial = [];
    expired = error;
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  if (expired !== undefined) {
    send({ type: 'ERROR', object: expired.toStatus() });
    end();
    return end;
  }
  for (const event of initial) send(event);

  cleanups.push(context.store.on((event) => {
    const visible = watchEventFor(event, request.type.plural, request.matches);
    if (visible !== undefined) send(visible);
  }));
  cleanups.push(context.faults.onDropWatches(() => {
    finish();
    res.destroy();
  }));
  if (request.allowWatchBookmarks && context.bookmarkIntervalMs > 0) {
    const bookmark = (): void => {
      send({
        type: 'BOOKMARK',
        object: { apiVersion: apiVersionOf(request.type), kind: request.type.kind, metadata: { resourceVersion: context.store.resourceVersion } },
      });
    };
    const interval = setInterval(bookmark, context.bookmarkIntervalMs);
    cleanups.push(() => clearInterval(interval));
  }
  if (request.timeoutSeconds !== undefined && request.timeoutSeconds > 0) {
    const timeout = setTimeout(end, request.timeoutSeconds * 1000);
    cleanups.push(() => clearTimeout(timeout));
  }
  req.on('close', finish);
  res.on('close', finish);
  return end;
}
