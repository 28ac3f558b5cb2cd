import test from 'ava';
import { AgentMetrics } from './agent-metrics.js';

test('bounded labels: an unknown run status counts as other, a code without an HTTP status as connection', async (t) => {
  const metrics = new AgentMetrics({ defaultMetrics: false });
  metrics.runFinished('completed');
  metrics.runFinished('something new');
  metrics.kubernetesApiError('create', '409');
  metrics.kubernetesApiError('watch', 'ECONNRESET');
  const text = await metrics.metrics();
  t.regex(text, /^v6_node_runs_finished_total\{status="completed"\} 1$/m);
  t.regex(text, /^v6_node_runs_finished_total\{status="other"\} 1$/m);
  t.regex(text, /^v6_node_runs_finished_total\{status="crashed"\} 0$/m, 'final statuses start at 0');
  t.regex(text, /^v6_node_kubernetes_api_errors_total\{verb="create",code="409"\} 1$/m);
  t.regex(text, /^v6_node_kubernetes_api_errors_total\{verb="watch",code="connection"\} 1$/m);
  t.notRegex(text, /^bullmq_job_count\{/m, 'no queue counts before the queues are observed');
});

test('the isolation gauges: 1 only once enforcement is confirmed, and one current state', async (t) => {
  const metrics = new AgentMetrics({ defaultMetrics: false });
  t.regex(await metrics.metrics(), /^v6_node_isolation_enforced 0$/m);
  t.regex(await metrics.metrics(), /^v6_node_isolation_state\{state="pending"\} 1$/m);
  metrics.setIsolationState('not-enforced');
  t.regex(await metrics.metrics(), /^v6_node_isolation_enforced 0$/m);
  metrics.setIsolationState('enforced');
  const text = await metrics.metrics();
  t.regex(text, /^v6_node_isolation_enforced 1$/m);
  t.deepEqual(text.match(/^v6_node_isolation_state\{state="[^"]+"\} 1$/gm), ['v6_node_isolation_state{state="enforced"} 1']);
});
