// `npm run bench`: the dispatch benchmark (issue 3), the proxy benchmark (issue 4) and the idle
// one. Prints the figures and their ratio to the targets; asserts nothing. V6_BENCH_PART=
// dispatch|proxy|idle runs one part, V6_BENCH_RUNS changes the number of runs (default 1000),
// V6_BENCH_IDLE_SECONDS the idle measurement (default 60). V6_BENCH_PART=task-path measures the
// researcher's wait on the real cluster and on the simulation (V6_BENCH_PATH_RUNS, default 50;
// `npm run cluster:up` first); it is not part of the default run.
import { benchDispatch } from './dispatch.js';
import { benchIdle } from './idle.js';
import { benchProxy } from './proxy.js';
import { benchRealPath, benchSimulatedPath, percentile, type PathFigures } from './task-path.js';

const part = process.env.V6_BENCH_PART;
if (part === undefined || part === 'dispatch') {
  const runs = Number(process.env.V6_BENCH_RUNS ?? 1000);
  const alone = await benchDispatch({ runs, podsRun: false });
  const rate = (runs / alone.allJobsMs) * 1000;
  console.log(`dispatch, the agent alone (${runs} runs in one sync; pods created, not run; queue.concurrency ${alone.concurrency})`);
  console.log(`  all Jobs exist after     ${(alone.allJobsMs / 1000).toFixed(2)} s   (target 10 s: ${(alone.allJobsMs / 10_000).toFixed(2)}x of target)`);
  console.log(`  Job creation rate        ${rate.toFixed(0)} runs/s (target 100: ${(rate / 100).toFixed(2)}x)`);
  console.log(`  agent peak RSS (VmHWM)   ${alone.peakRssMb.toFixed(0)} MB  (target 120 MB: ${(alone.peakRssMb / 120).toFixed(2)}x); ${alone.readyRssMb.toFixed(0)} MB when ready, before any run (module loading, mostly @kubernetes/client-node)`);
  const full = await benchDispatch({ runs });
  console.log(`dispatch, end to end (the simulated kubelet runs every pod on the same two cores)`);
  console.log(`  all Jobs exist after     ${(full.allJobsMs / 1000).toFixed(2)} s   (${((runs / full.allJobsMs) * 1000).toFixed(0)} runs/s)`);
  console.log(`  all runs reported after  ${(full.allReportedMs / 1000).toFixed(2)} s   (${((runs / full.allReportedMs) * 1000).toFixed(0)} runs/s)`);
  console.log(`  agent peak RSS (VmHWM)   ${full.peakRssMb.toFixed(0)} MB`);
  for (const [name, figures] of [['alone', alone], ['end to end', full]] as const) {
    console.log(
      `  Kubernetes API (${name})  ${figures.apiRequests} requests, ${(figures.apiRequests / runs).toFixed(1)} per run, over ${figures.apiConnections} TCP connections (${(figures.apiConnections / Math.max(1, figures.apiRequests)).toFixed(3)} per request)`,
    );
  }
  console.log('');
}
if (part === undefined || part === 'proxy') await benchProxy();
if (part === undefined || part === 'idle') {
  const idle = await benchIdle();
  console.log(`idle, logged in with nothing to do (${idle.seconds} s)`);
  for (const { name, cpuPercent, wakeupsPerSecond } of idle.processes) {
    console.log(`  ${name.padEnd(6)} CPU ${cpuPercent.toFixed(2)}% of one core (target 0.5%: ${(cpuPercent / 0.5).toFixed(2)}x), ${wakeupsPerSecond.toFixed(0)} wake-ups/s`);
  }
}
if (part === 'task-path') {
  const runs = Number(process.env.V6_BENCH_PATH_RUNS ?? 50);
  const simulated = await benchSimulatedPath(runs);
  const real = await benchRealPath(runs);
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`task path, one task after the other (${runs} runs each; the real vantage6 server 4.15.2)`);
  console.log('  phase (from task created)          real cluster p50 / p95       simulation p50 / p95       real/sim p50');
  for (const [phase, pick] of [
    ['run started (pod running)', (f: PathFigures) => f.toStarted],
    ['run finished at the server', (f: PathFigures) => f.toFinished],
    ['result read back', (f: PathFigures) => f.toResult],
  ] as const) {
    const [r, s] = [pick(real), pick(simulated)];
    console.log(`  ${phase.padEnd(34)} ${seconds(percentile(r, 50)).padStart(8)} / ${seconds(percentile(r, 95)).padEnd(12)} ${seconds(percentile(s, 50)).padStart(8)} / ${seconds(percentile(s, 95)).padEnd(12)} ${(percentile(r, 50) / percentile(s, 50)).toFixed(1)}x`);
  }
}
