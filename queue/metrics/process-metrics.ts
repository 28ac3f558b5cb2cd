// prom-client's Node process metrics (CPU, memory, heap, handles, GC, event-loop lag) for both
// processes, with the event-loop delay sampled every second instead of prom-client's 10 ms: the
// default woke each idle process a hundred times a second for a lag figure Prometheus reads every
// 15–60 s. The lag quantiles stay meaningful at that rate (a stall shows in the next sample).
import { collectDefaultMetrics, type Registry } from 'prom-client';

export const EVENT_LOOP_SAMPLE_MS = 1_000;

export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}
