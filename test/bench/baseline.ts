// The baseline build the bench compares against (issue 16): V6_BENCH_BASELINE=<rev> or, by
// default, `git merge-base HEAD main`; `none` skips it. The revision is unpacked with `git archive`
// (no worktree), installed with `npm ci` and built once into ~/.cache/v6-node/bench/<commit>,
// outside the repository, and reused by later runs. The bench then runs the same parts with
// V6_BENCH_DIST pointing at that build, in a child process whose figures come back as JSON.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Figure } from './figures.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

export interface Baseline {
  readonly name: string;
  readonly dist: string;
}

/** The baseline's build, made if not cached; undefined when V6_BENCH_BASELINE=none. */
export async function prepareBaseline(log: (l: string) => void): Promise<Baseline | undefined> {
  const wanted = process.env.V6_BENCH_BASELINE ?? '';
  if (wanted === 'none') return undefined;
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
  const rev = wanted === '' ? git('merge-base', 'HEAD', 'main') : wanted;
  const commit = git('rev-parse', '--verify', `${rev}^{commit}`);
  const dir = join(process.env.V6_BENCH_CACHE ?? join(homedir(), '.cache', 'v6-node', 'bench'), commit);
  const dist = join(dir, 'dist');
  const name = `${rev === commit ? commit.slice(0, 10) : `${rev} (${commit.slice(0, 10)})`}`;
  if (existsSync(join(dist, 'agent', 'cli.js'))) return { name, dist };
  log(`bench: building the baseline ${name} in ${dir} (once; cached by revision)`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C "$0"`, dir], { cwd: repo, stdio: 'inherit' });
  // Scripts off: the `node` devDependency would fetch a second Node; tsc runs on this one.
  execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  return { name, dist };
}

/** Runs this bench (the same parts, this checkout's harness) against the baseline's build; its output goes to `logFile`. */
export async function measureBaseline(baseline: Baseline, logFile: string): Promise<Figure[]> {
  const out = join(tmpdir(), `v6-bench-baseline-${process.pid}.json`);
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(logFile, 'w');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', main], {
        env: { ...process.env, V6_BENCH_DIST: baseline.dist, V6_BENCH_BASELINE: 'none', V6_BENCH_FIGURES_OUT: out },
        stdio: ['ignore', fd, fd],
      });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the baseline bench exited with ${code}; see ${logFile}`))));
    });
    return JSON.parse(await readFile(out, 'utf8')) as Figure[];
  } finally {
    closeSync(fd);
    await rm(out, { force: true });
  }
}
