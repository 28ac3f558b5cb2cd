// The test algorithm images run in a real containerd as the agent runs them: the Job the agent
// builds (non-root, read-only root, no capabilities, its env and mounts), the run files the agent
// writes, and a CSV database mounted read-only. Each failure mode is a distinct behaviour.
import test from 'ava';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OutputTooLargeError } from '../../../agent/runs/run-files.js';
import { STATE_ROOT } from '../images/cache.js';
import { startContainerd, type PrivateContainerd } from '../images/containerd.js';
import type { BuiltImage } from '../images/static-image.js';
import { ALGORITHMS, algorithmImage, algorithmImageName, algorithmImages, type AlgorithmName } from './algorithm-images.js';
import { containerToken, NODE, runAsAgent, type AgentPodOptions } from './agent-pod.js';
import { startFakeProxy } from './fake-proxy.js';

const REPOSITORY = 'example.test/v6-algorithms';
let images: Record<AlgorithmName, BuiltImage>;
let containerd: PrivateContainerd;
let scratch: string;

test.before(async () => {
  images = await algorithmImages({ repository: REPOSITORY, tag: 'test', verbose: false });
  containerd = await startContainerd(`algorithms-${process.pid}`);
  for (const algorithm of ALGORITHMS) await containerd.ctr(['images', 'import', images[algorithm].archive]);
  scratch = await mkdtemp(join(STATE_ROOT, 'algorithms-'));
});

test.after.always(async () => {
  await containerd?.close();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

let runs = 0;
/** A run of `algorithm` as the agent would start it, in a folder of its own. */
async function runAlgorithm(algorithm: AlgorithmName, options: Omit<AgentPodOptions, 'containerd' | 'image' | 'archive' | 'root'>) {
  const root = join(scratch, `run-${++runs}`);
  return runAsAgent({ containerd, image: images[algorithm].name, archive: images[algorithm].archive, root, runId: runs, ...options });
}

/** A CSV whose `age` column has a missing value and whose sum and count are known here. */
async function csvDatabase(): Promise<{ file: string; sum: number; count: number }> {
  const ages = [34, 51.5, null, 27, 68, 45.25];
  const rows = ages.map((age, i) => `${i + 1},${age ?? ''},site-${i % 2}`);
  const file = join(scratch, 'patients.csv');
  await writeFile(file, ['id,age,site', ...rows, ''].join('\n'));
  const present = ages.filter((age) => age !== null);
  return { file, sum: present.reduce((a, b) => a + b, 0), count: present.length };
}

test('the images are named as asked, one per algorithm, and a second call takes them from the cache', async (t) => {
  t.deepEqual(
    ALGORITHMS.map((algorithm) => images[algorithm].name),
    ALGORITHMS.map((algorithm) => `${REPOSITORY}/${algorithm}:test`),
  );
  const started = Date.now();
  const again = await algorithmImage('crash', algorithmImageName('crash', { repository: REPOSITORY, tag: 'test' }), false);
  t.true(again.cached);
  t.is(again.digest, images.crash.digest);
  t.true(Date.now() - started < 30_000, `a cached image took ${Date.now() - started} ms`);
});

test('partial_average on a CSV database writes the sum and count the agent reads as JSON', async (t) => {
  const csv = await csvDatabase();
  const result = await runAlgorithm('average', {
    input: { method: 'partial_average', kwargs: { column: 'age' } },
    databases: [{ label: 'default', type: 'csv', hostFile: csv.file }],
  });
  t.is(result.exitCode, 0, result.stdout + result.stderr);
  const context = result.job.spec!.template.spec!.containers[0]!.securityContext!;
  t.like(context, { readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  t.deepEqual(JSON.parse((await result.readOutput()).toString('utf8')), { sum: csv.sum, count: csv.count });
  t.regex(result.stdout, /wrapper for v6_average/);
});

test('crash exits non-zero with the traceback in its log', async (t) => {
  const result = await runAlgorithm('crash', { input: { method: 'crash', kwargs: { message: 'boom on purpose' } } });
  t.is(result.exitCode, 1);
  t.regex(result.stdout, /Error encountered while calling crash: boom on purpose/);
  t.regex(result.stderr, /Traceback \(most recent call last\):[\s\S]*v6_crash[\s\S]*AlgorithmCrash: boom on purpose/);
});

test('oversized writes more than N bytes when asked for N, and the agent refuses to read it', async (t) => {
  const size = 1024 * 1024 + 1;
  const result = await runAlgorithm('oversized', { input: { method: 'oversized', kwargs: { size_bytes: size } }, maxOutputBytes: size });
  t.is(result.exitCode, 0, result.stdout + result.stderr);
  t.is((await stat(result.outputFile)).size, size + 2);
  t.true((await readFile(result.outputFile)).subarray(0, 4).equals(Buffer.from('"xxx')));
  const refused = await t.throwsAsync(result.readOutput(), { instanceOf: OutputTooLargeError });
  t.is(refused?.limit, size);
});

test('oom is killed by the memory limit of its cgroup (exit 137) after holding memory up to it', async (t) => {
  const limitMiB = 192;
  const result = await runAlgorithm('oom', { input: { method: 'oom', kwargs: { step_mib: 8 } }, memoryLimit: `${limitMiB}Mi` });
  t.is(result.exitCode, 137, result.stdout + result.stderr);
  const held = [...result.stdout.matchAll(/holding (\d+) MiB/g)].map((m) => Number(m[1]));
  const most = Math.max(...held);
  t.log(`held ${most} MiB when the kernel killed it under a ${limitMiB} MiB limit`);
  t.true(most >= limitMiB / 4 && most <= limitMiB, `held at most ${most} MiB under a ${limitMiB} MiB limit`);
});

test('central_average imports and fails with a clear error when the proxy is unreachable', async (t) => {
  const result = await runAlgorithm('average', {
    input: { method: 'central_average', kwargs: { column: 'age', connect_attempts: 2 } },
    proxyUrl: 'http://127.0.0.1',
  });
  const log = result.stdout + result.stderr;
  t.is(result.exitCode, 1, log);
  t.regex(log, /Connection error/);
  t.regex(log, /ProxyUnreachableError: the vantage6 proxy at http:\/\/127\.0\.0\.1:7654 did not answer after 2 connection attempts/);
});

test('central_average creates partial_average on the organizations through the proxy and combines their sums and counts', async (t) => {
  const partials = new Map([
    [3, { sum: 225.75, count: 5 }],
    [4, { sum: 100.25, count: 3 }],
  ]);
  const proxy = await startFakeProxy({ collaborationId: NODE.collaborationId, results: partials, taskId: 99 });
  t.teardown(() => proxy.close());
  const token = containerToken({ taskId: 98, image: images.average.name, databases: [{ label: 'default' }] });
  const result = await runAlgorithm('average', {
    input: { method: 'central_average', kwargs: { column: 'age' } },
    token,
    proxyPort: proxy.port,
    hostNetwork: true,
  });
  t.is(result.exitCode, 0, result.stdout + result.stderr);
  t.deepEqual(JSON.parse((await result.readOutput()).toString('utf8')), { average: 326 / 8, sum: 326, count: 8, organizations: 2 });

  t.true(proxy.requests.every((r) => r.authorization === `Bearer ${token}`));
  const created = proxy.requests.filter((r) => r.method === 'POST' && r.url === '/task');
  t.is(created.length, 1);
  const body = created[0]!.body as { image: string; collaboration_id: number; databases: unknown; organizations: { id: number; input: string }[] };
  t.like(body, { image: images.average.name, collaboration_id: NODE.collaborationId, databases: [{ label: 'default' }] });
  t.deepEqual(body.organizations.map((org) => org.id), [3, 4]);
  for (const org of body.organizations) {
    t.deepEqual(JSON.parse(Buffer.from(org.input, 'base64').toString('utf8')), { method: 'partial_average', kwargs: { column: 'age' } });
  }
  t.true(proxy.requests.some((r) => r.url.startsWith('/result?') && r.url.includes('task_id=99')));
});
