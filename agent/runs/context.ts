import type { IsolationGate } from '../isolation/gate.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { RunInformer } from '../cluster/run-informer.js';
import type { RunObjects } from '../cluster/run-objects.js';
import type { PolicyDeps } from '../protocol/policy.js';
import type { Cryptor } from '../protocol/encryption.js';
import type { NodeIdentity } from '../server/client.js';
import type { RunsApi } from '../server/runs-api.js';
import type { LiveTokens } from '../../queue/live-tokens.js';
import type { RunQueues } from '../../queue/run-queues.js';
import type { RunMarkers } from './markers.js';
import type { RunFiles } from './run-files.js';
import type { SessionFiles } from '../sessions/session-files.js';
import type { ProxyAddress } from '../cluster/proxy-address.js';
import type { JobCapacity } from './capacity.js';

/** The ids that travel with every status event (spec A4 `algorithm_status_change`). */
export interface RunRef {
  readonly runId: number;
  readonly taskId: number;
  readonly parentId: number | null;
}

/** What the agent tells the server over the socket while runs progress. */
export interface NodeEvents {
  statusChanged(run: RunRef, status: string): void;
  logLine(run: RunRef, line: string): void;
}

/** Counters and histograms the run modules feed; all optional so tests can leave them out. */
export interface RunMetrics {
  runFinished?(status: string): void;
  queueWait?(seconds: number): void;
  startLatency?(seconds: number): void;
  runDuration?(seconds: number): void;
  reportLatency?(seconds: number): void;
  reportRetried?(): void;
}

/** Everything the run modules share; built once by the agent, injected so tests can build their own. */
export interface RunContext {
  readonly config: Config;
  readonly identity: NodeIdentity;
  readonly runs: RunsApi;
  readonly objects: RunObjects;
  readonly informer: RunInformer;
  readonly queues: RunQueues;
  readonly markers: RunMarkers;
  /** The container tokens the proxy accepts: granted when a run's Job is created, revoked when the run ends. */
  readonly liveTokens: Pick<LiveTokens, 'grant' | 'revoke'>;
  readonly files: RunFiles;
  /** vantage6 5: the sessions' dataframes on the task volume. */
  readonly sessions: SessionFiles;
  /** `proxy.url` resolved to an address: what algorithms get as HOST. */
  readonly proxyAddress: Pick<ProxyAddress, 'url'>;
  /** What holds each algorithm back until its pod is isolated (agent/isolation/gate.ts); none when isolation is not required. */
  readonly isolationGate: IsolationGate | undefined;
  readonly capacity: JobCapacity;
  readonly cryptor: Cryptor;
  readonly events: NodeEvents;
  readonly policyDeps: PolicyDeps;
  readonly logger: Logger;
  readonly metrics: RunMetrics;
  readonly now: () => Date;
}
