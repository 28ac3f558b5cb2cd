// Recording core/v1 Events about objects, as controllers and the kubelet do (`kubectl describe`).
import { randomBytes } from 'node:crypto';
import { rfc3339 } from './clock.js';
import type { KubeObject, Store } from './store.js';

export interface EventSource {
  /** 'job-controller', 'kubelet', 'default-scheduler', ... */
  component: string;
  host?: string;
}

/** Creates an Event about `involved`; best effort, as a lost event must never fail a sync. */
export function recordEvent(
  store: Store,
  source: EventSource,
  involved: KubeObject,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
  now: number,
): void {
  const { name, namespace, uid, resourceVersion } = involved.metadata;
  try {
    store.create('events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: { apiVersion: involved.apiVersion, kind: involved.kind, name, namespace, uid, resourceVersion },
      reason,
      message,
      type,
      source,
      reportingComponent: source.component,
      reportingInstance: source.host ?? '',
      firstTimestamp: rfc3339(now),
      lastTimestamp: rfc3339(now),
      count: 1,
    });
  } catch {
    // The namespace may be terminating; events are advisory.
  }
}
