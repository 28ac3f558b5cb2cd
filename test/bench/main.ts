// `npm run bench`: the dispatch benchmark and, where the proxy is available, the proxy benchmark.
// Prints figures and their ratio to the targets of issues 3 and 4; asserts nothing.
import { benchDispatch } from './dispatch.js';

const runs = Number(process.env.V6_BENCH_RUNS ?? 1000);
const d = await benchDispatch({ runs });
const rate = (runs / d.allJobsMs) * 1000;
console.log('');
console.log(`dispatch (${d.runs} runs, one sync; queue.concurrency ${d.concurrency}, queue.max_active_jobs ${d.maxActiveJobs})`);
console.log(`  all Jobs exist after     ${(d.allJobsMs / 1000).toFixed(2)} s   (target 10 s: ${(d.allJobsMs / 10_000).toFixed(2)}x of target)`);
console.log(`  Job creation rate        ${rate.toFixed(0)} runs/s (target 100: ${(rate / 100).toFixed(2)}x)`);
console.log(`  all runs reported after  ${(d.allReportedMs / 1000).toFixed(2)} s   (${((runs / d.allReportedMs) * 1000).toFixed(0)} runs/s end to end)`);
console.log(`  agent peak RSS (VmHWM)   ${d.peakRssMb.toFixed(0)} MB  (target 120 MB: ${(d.peakRssMb / 120).toFixed(2)}x; includes the tsx loader)`);
