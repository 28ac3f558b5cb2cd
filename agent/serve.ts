/**
 * The agent as `v6-node start` runs it: the health and metrics endpoints first (so the kubelet's
 * liveness probe is answered while the agent logs in), then the agent with prom-client metrics.
 */
import { AgentMetrics } from '../queue/metrics/agent-metrics.js';
import { EventLoopWatch, startHealthServer, type HealthServer } from './health-server.js';
import { NodeAgent, type NodeAgentOptions } from './node-agent.js';
import { closeInOrder, type UnfinishedStep } from './shutdown.js';

export interface ServedAgent {
  readonly agent: NodeAgent;
  readonly metrics: AgentMetrics;
  /** `/metrics`, `/livez`, `/readyz` on metrics.port. */
  readonly health: HealthServer;
  /** Closes the agent, then the endpoints, each step bounded in time; resolves with the steps that did not finish. Idempotent. */
  close(): Promise<UnfinishedStep[]>;
}

export interface ServeAgentOptions extends Omit<NodeAgentOptions, 'metrics'> {
  /** Overrides config.metrics.port (0: any free port). */
  readonly metricsPort?: number;
  readonly metricsHost?: string;
  /** Node process metrics; default true. */
  readonly defaultMetrics?: boolean;
}

export async function serveAgent(options: ServeAgentOptions): Promise<ServedAgent> {
  const metrics = new AgentMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  let agent: NodeAgent | undefined;
  const health = await startHealthServer({
    port: options.metricsPort ?? options.config.metrics.port,
    ...(options.metricsHost === undefined ? {} : { host: options.metricsHost }),
    registry: metrics.registry,
    liveness: new EventLoopWatch(),
    logger: options.logger.child({ subsystem: 'health' }),
    readiness: async () => (agent ? { ...(await agent.health()) } : { loggedIn: false }),
    problems: () => agent?.problems() ?? [],
  });
  try {
    agent = await NodeAgent.start({ ...options, metrics });
  } catch (error) {
    await health.close();
    throw error;
  }
  const started = agent;
  wireIsolation(started, metrics);
  let closing: Promise<UnfinishedStep[]> | undefined;
  return {
    agent: started,
    metrics,
    health,
    close: () =>
      (closing ??= (async () => [
        ...(await started.close()),
        ...(await closeInOrder([{ name: 'metrics and health endpoints', close: () => health.close() }], {
          logger: options.logger,
          ...(options.timings?.closeStepTimeoutMs === undefined ? {} : { timeoutMs: options.timings.closeStepTimeoutMs }),
        })),
      ])()),
  };
}

/** The isolation probe's state (agent/isolation/) into the isolation gauges, now and on every verdict. */
function wireIsolation(agent: NodeAgent, metrics: AgentMetrics): void {
  metrics.setIsolationState(agent.isolation.status().verdict);
  agent.isolation.onVerdict((status) => metrics.setIsolationState(status.verdict));
}
