// `npm run bench`: the dispatch benchmark (issue 3), the proxy benchmark (issue 4) and the idle
// one, each run against this build and against the baseline build (baseline.ts: by default
// `git merge-base HEAD main`, V6_BENCH_BASELINE=<rev>|none) in the same run. Prints the figures,
// their ratio to the targets and to the baseline; asserts nothing. V6_BENCH_PART=
// dispatch|proxy|idle runs one part, V6_BENCH_RUNS changes the number of runs (default 1000),
// V6_BENCH_IDLE_SECONDS the idle measurement (default 60). V6_BENCH_PART=task-path measures the
// researcher's wait on the real cluster and on the simulation (V6_BENCH_PATH_RUNS, default 50;
// `npm run cluster:up` first), with no baseline; it is not part of the default run.
// V6_BENCH_PATH_GATE=compare measures the real path again without the isolation gate.
// V6_BENCH_PART=upstream-5 runs our node and upstream's vantage6-node 5.0.3 side by side on the
// real cluster at the real 5.0 hub (V6_BENCH_UPSTREAM_RUNS runs each, default 100, one after the
// other) and prints, for each and as ratios upstream/ours, the wall time of the runs, the
// Kubernetes API requests, CPU seconds and peak RSS of each node's pods; no baseline, not part of
// the default run (about 15 minutes here with the images built). V6_BENCH_UPSTREAM_TOGETHER=1
// creates each node's tasks all at once instead of each after the one before has finished.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureBaseline, prepareBaseline } from './baseline.js';
import { benchDispatch } from './dispatch.js';
import { comparison, figure, recordedFigures, saveFigures, type Figure } from './figures.js';
import { benchIdle } from './idle.js';
import { benchProxy } from './proxy.js';
import { benchRealPath, benchSimulatedPath, percentile, type PathFigures } from './task-path.js';
import { benchBesideUpstream, type NodeFigures } from './upstream-5.js';

const part = process.env.V6_BENCH_PART;
const baseline = part === 'task-path' || part === 'upstream-5' ? undefined : await prepareBaseline(console.log);
let before: Figure[] | undefined;
if (baseline) {
  const log = join(tmpdir(), `v6-bench-baseline-${Date.now()}.log`);
  console.log(`bench: measuring the baseline ${baseline.name} first (its output: ${log})`);
  before = await measureBaseline(baseline, log).catch((error: unknown) => {
    console.log(`bench: the baseline was not measured: ${(error as Error).message}`);
    return undefined;
  });
}

if (part === undefined || part === 'dispatch') {
  const runs = Number(process.env.V6_BENCH_RUNS ?? 1000);
  const alone = await benchDispatch({ runs, podsRun: false });
  const rate = (runs / alone.allJobsMs) * 1000;
  console.log(`dispatch, the agent alone (${runs} runs in one sync; pods created, not run; queue.concurrency ${alone.concurrency})`);
  console.log(`  all Jobs exist after     ${(alone.allJobsMs / 1000).toFixed(2)} s   (target 10 s: ${(alone.allJobsMs / 10_000).toFixed(2)}x of target)`);
  console.log(`  Job creation rate        ${rate.toFixed(0)} runs/s (target 100: ${(rate / 100).toFixed(2)}x)`);
  console.log(`  agent peak RSS (VmHWM)   ${alone.peakRssMb.toFixed(0)} MB  (target 150 MB: ${(alone.peakRssMb / 150).toFixed(2)}x); ${alone.readyRssMb.toFixed(0)} MB when ready, before any run (target 90 MB)`);
  figure('agent RSS when ready', alone.readyRssMb, 'MB', { value: 90, better: 'lower' });
  figure(`agent peak RSS, ${runs} runs dispatched`, alone.peakRssMb, 'MB', { value: 150, better: 'lower' });
  figure(`all ${runs} Jobs exist after`, alone.allJobsMs / 1000, 's', { value: 10, better: 'lower' });
  figure('agent CPU per run (alone)', alone.cpuMsPerRun, 'ms');
  const full = await benchDispatch({ runs });
  console.log(`dispatch, end to end (the simulated kubelet runs every pod on the same two cores)`);
  console.log(`  all Jobs exist after     ${(full.allJobsMs / 1000).toFixed(2)} s   (${((runs / full.allJobsMs) * 1000).toFixed(0)} runs/s)`);
  console.log(`  all runs reported after  ${(full.allReportedMs / 1000).toFixed(2)} s   (${((runs / full.allReportedMs) * 1000).toFixed(0)} runs/s)`);
  console.log(`  agent peak RSS (VmHWM)   ${full.peakRssMb.toFixed(0)} MB`);
  figure(`agent peak RSS, ${runs} runs end to end`, full.peakRssMb, 'MB', { value: 150, better: 'lower' });
  figure('agent CPU per run (end to end)', full.cpuMsPerRun, 'ms');
  for (const [name, figures] of [['alone', alone], ['end to end', full]] as const) {
    console.log(
      `  Kubernetes API (${name})  ${figures.apiRequests} requests, ${(figures.apiRequests / runs).toFixed(1)} per run, over ${figures.apiConnections} TCP connections (${(figures.apiConnections / Math.max(1, figures.apiRequests)).toFixed(3)} per request)`,
    );
    figure(`Kubernetes API requests per run (${name})`, figures.apiRequests / runs, '');
    figure(`TCP connections per API request (${name})`, figures.apiConnections / Math.max(1, figures.apiRequests), '');
  }
  console.log('');
}
if (part === undefined || part === 'proxy') await benchProxy();
if (part === undefined || part === 'idle') {
  const idle = await benchIdle();
  console.log(`idle, logged in with nothing to do (${idle.seconds} s)`);
  for (const { name, cpuPercent, wakeupsPerSecond } of idle.processes) {
    console.log(`  ${name.padEnd(6)} CPU ${cpuPercent.toFixed(2)}% of one core (target 0.5%: ${(cpuPercent / 0.5).toFixed(2)}x), ${wakeupsPerSecond.toFixed(0)} wake-ups/s`);
    figure(`${name} idle CPU`, cpuPercent, '%', { value: 0.5, better: 'lower' });
  }
}
if (part === 'task-path') {
  const runs = Number(process.env.V6_BENCH_PATH_RUNS ?? 50);
  const simulated = await benchSimulatedPath(runs);
  const real = await benchRealPath(runs);
  if (process.env.V6_BENCH_PATH_GATE === 'compare') {
    const ungated = await benchRealPath(runs, { gate: false });
    console.log(`isolation gate on the real cluster (${runs} runs each, p50 from task created; gated / without the gate)`);
    for (const [phase, pick] of [
      ['pod running', (f: PathFigures) => f.toRunning],
      ['run finished at the server', (f: PathFigures) => f.toFinished],
    ] as const) {
      const [g, u] = [percentile(pick(real), 50), percentile(pick(ungated), 50)];
      console.log(`  ${phase.padEnd(28)} ${(g / 1000).toFixed(2)} s / ${(u / 1000).toFixed(2)} s = ${(g / u).toFixed(2)}x (+${((g - u) / 1000).toFixed(2)} s)`);
    }
  }
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`task path, one task after the other (${runs} runs each; the real vantage6 server 4.15.2)`);
  console.log('  phase (from task created)          real cluster p50 / p95       simulation p50 / p95       real/sim p50');
  for (const [phase, pick] of [
    ['run started (started_at)', (f: PathFigures) => f.toStarted],
    ['Job created (seen by a watch)', (f: PathFigures) => f.toJob],
    ['pod running (seen by a watch)', (f: PathFigures) => f.toRunning],
    ['run finished at the server', (f: PathFigures) => f.toFinished],
    ['result read back', (f: PathFigures) => f.toResult],
  ] as const) {
    const [r, s] = [pick(real), pick(simulated)];
    console.log(`  ${phase.padEnd(34)} ${seconds(percentile(r, 50)).padStart(8)} / ${seconds(percentile(r, 95)).padEnd(12)} ${seconds(percentile(s, 50)).padStart(8)} / ${seconds(percentile(s, 95)).padEnd(12)} ${(percentile(r, 50) / percentile(s, 50)).toFixed(1)}x`);
  }
}
if (part === 'upstream-5') {
  const runs = Number(process.env.V6_BENCH_UPSTREAM_RUNS ?? 100);
  const together = process.env.V6_BENCH_UPSTREAM_TOGETHER === '1';
  const { ours, upstream } = await benchBesideUpstream(runs, together);
  console.log(`beside the upstream node: ${runs} federated_compute runs of partial_sum on Alpha's node, ${together ? 'their tasks created all at once' : 'one after the other'}, the same hub (HQ 5.0.3), cluster and image`);
  console.log(`  completed               ours ${ours.completed}/${ours.runs}, upstream ${upstream.completed}/${upstream.runs}; first result ours ${JSON.stringify(ours.result)}, upstream ${JSON.stringify(upstream.result)}`);
  console.log('  figure                                   ours     upstream   upstream/ours');
  const rows: [string, (f: NodeFigures) => number, string][] = [
    [`wall time of ${runs} runs (HQ)`, (f) => f.wallSeconds, 's'],
    ['median run, created to started', (f) => f.runToStartedSeconds, 's'],
    ['median run, created to finished', (f) => f.runToFinishedSeconds, 's'],
    ['Kubernetes API requests', (f) => f.apiRequests, ''],
    ['CPU seconds, node pod', (f) => f.node.cpuSeconds, 's'],
    ['peak RSS, node pod', (f) => f.node.peakRssMb, 'MB'],
    ['peak cgroup charge, node pod', (f) => f.node.peakChargeMb, 'MB'],
  ];
  for (const [name, pick, unit] of rows) {
    const [o, u] = [pick(ours), pick(upstream)];
    console.log(`  ${`${name}${unit ? ` (${unit})` : ''}`.padEnd(38)} ${o.toFixed(1).padStart(8)} ${u.toFixed(1).padStart(12)} ${(u / o).toFixed(2).padStart(15)}`);
    const mode = together ? ', tasks together' : '';
    figure(`${name}${mode}, ours`, o, unit);
    figure(`${name}${mode}, upstream`, u, unit);
  }
  if (ours.redis) console.log(`  our Redis pod apart: ${ours.redis.cpuSeconds.toFixed(1)} CPU s, peak RSS ${ours.redis.peakRssMb.toFixed(1)} MB; with it, our CPU ${(ours.node.cpuSeconds + ours.redis.cpuSeconds).toFixed(1)} s (upstream/ours ${(upstream.node.cpuSeconds / (ours.node.cpuSeconds + ours.redis.cpuSeconds)).toFixed(2)})`);
  for (const [name, f] of [['ours', ours], ['upstream', upstream]] as const) {
    console.log(`  API requests of ${name}: ${f.apiByVerb.map(([verb, n]) => `${verb} ${n}`).join(', ')}`);
  }
}

saveFigures();
if (baseline) {
  console.log('');
  for (const line of comparison(recordedFigures(), before, baseline.name)) console.log(line);
}
