// chart-testing (`ct`, github.com/helm/chart-testing/v3) for the chart's lint test: built from its
// Go module with the machine's Go, with yamllint and yamale from PyPI in a virtualenv beside it
// and ct's own chart schema and lint config from the module. Cached in
// `$V6_NODE_CACHE/chart-testing-<version>` (default ~/.cache/v6-node); a stamp written last marks
// it ready, so a build cut short is never taken for a ready one.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ensureHelm } from './install-helm.js';

const run = promisify(execFile);

export const CT_VERSION = 'v3.13.0';
const PYTHON_REQUIREMENTS = ['yamllint==1.37.1', 'yamale==6.0.0'];

export interface ChartTesting {
  readonly ct: string;
  /** ct's chart schema (`--chart-yaml-schema`) and yamllint config (`--lint-conf`). */
  readonly chartSchema: string;
  readonly lintConf: string;
  /** PATH with helm, yamllint and yamale first, for ct to call. */
  readonly env: NodeJS.ProcessEnv;
}

function cacheDir(): string {
  return join(process.env.V6_NODE_CACHE ?? join(homedir(), '.cache', 'v6-node'), `chart-testing-${CT_VERSION}`);
}

const READY = '.ready';

export async function ensureChartTesting(): Promise<ChartTesting> {
  const dir = cacheDir();
  const stamp = [CT_VERSION, ...PYTHON_REQUIREMENTS].join('\n');
  if ((await readFile(join(dir, READY), 'utf8').catch(() => '')) !== stamp) await build(dir, stamp);
  const helm = await ensureHelm();
  // ct calls `helm`: a folder holding only a link to ours.
  const helmDir = join(dir, 'helm-bin');
  await mkdir(helmDir, { recursive: true });
  await rm(join(helmDir, 'helm'), { force: true });
  await symlink(helm, join(helmDir, 'helm'));
  return {
    ct: join(dir, 'bin', 'ct'),
    chartSchema: join(dir, 'etc', 'chart_schema.yaml'),
    lintConf: join(dir, 'etc', 'lintconf.yaml'),
    env: { ...process.env, PATH: [helmDir, join(dir, 'venv', 'bin'), process.env.PATH].join(':'), HELM_CACHE_HOME: join(dir, 'helm-cache') },
  };
}

async function build(dir: string, stamp: string): Promise<void> {
  const building = `${dir}.building`;
  await rm(building, { recursive: true, force: true });
  const module = join(building, 'module');
  await mkdir(module, { recursive: true });
  // A module of its own requiring ct at the version, instead of `go install ct@version`: that
  // asks the proxy for the module's version list, which it does not serve for chart-testing/v3.
  await writeFile(join(module, 'go.mod'), `module v6-node/chart-testing\n\ngo 1.24\n\nrequire github.com/helm/chart-testing/v3 ${CT_VERSION}\n`);
  await writeFile(join(module, 'tools.go'), '//go:build tools\n\npackage tools\n\nimport _ "github.com/helm/chart-testing/v3/ct"\n');
  // The checksum database has no entry for this version: ct's own module is taken as the proxy
  // serves it; its dependencies are still checked against ct's go.sum and the database.
  const goEnv = { ...process.env, GONOSUMDB: 'github.com/helm/chart-testing', GOFLAGS: '-buildvcs=false' };
  await run('go', ['mod', 'tidy'], { cwd: module, env: goEnv, maxBuffer: 16 * 1024 * 1024 });
  await run('go', ['build', '-trimpath', '-o', join(building, 'bin', 'ct'), 'github.com/helm/chart-testing/v3/ct'], { cwd: module, env: goEnv, maxBuffer: 16 * 1024 * 1024 });
  const { stdout } = await run('go', ['list', '-m', '-f', '{{.Dir}}', 'github.com/helm/chart-testing/v3'], { cwd: module, env: goEnv });
  await mkdir(join(building, 'etc'));
  for (const file of ['chart_schema.yaml', 'lintconf.yaml']) await copyFile(join(stdout.trim(), 'etc', file), join(building, 'etc', file));
  await rm(module, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  await rename(building, dir);

  // Made in place: a virtualenv's scripts name its absolute path.
  await run('python3', ['-m', 'venv', join(dir, 'venv')]);
  await run(join(dir, 'venv', 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...PYTHON_REQUIREMENTS], { maxBuffer: 16 * 1024 * 1024 });
  await writeFile(join(dir, READY), stamp);
}
