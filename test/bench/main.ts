// `npm run bench`: the dispatch benchmark (issue 3) and the proxy benchmark (issue 4). Prints the
// figures and their ratio to the targets; asserts nothing. V6_BENCH_PART=dispatch|proxy runs one part,
// V6_BENCH_RUNS changes the number of runs (default 1000).
import { benchDispatch } from './dispatch.js';
import { benchProxy } from './proxy.js';

const part = process.env.V6_BENCH_PART;
if (part !== 'proxy') {
  const runs = Number(process.env.V6_BENCH_RUNS ?? 1000);
  const d = await benchDispatch({ runs });
  const rate = (runs / d.allJobsMs) * 1000;
  console.log(`dispatch (${d.runs} runs, one sync; queue.concurrency ${d.concurrency}, queue.max_active_jobs ${d.maxActiveJobs})`);
  console.log(`  all Jobs exist after     ${(d.allJobsMs / 1000).toFixed(2)} s   (target 10 s: ${(d.allJobsMs / 10_000).toFixed(2)}x of target)`);
  console.log(`  Job creation rate        ${rate.toFixed(0)} runs/s (target 100: ${(rate / 100).toFixed(2)}x)`);
  console.log(`  all runs reported after  ${(d.allReportedMs / 1000).toFixed(2)} s   (${((runs / d.allReportedMs) * 1000).toFixed(0)} runs/s end to end)`);
  console.log(`  agent peak RSS (VmHWM)   ${d.peakRssMb.toFixed(0)} MB  (target 120 MB: ${(d.peakRssMb / 120).toFixed(2)}x; includes the tsx loader)`);
  console.log('');
}
if (part !== 'dispatch') await benchProxy();
