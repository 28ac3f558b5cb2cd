// Builds the cluster's binaries from pinned Go modules into a cache outside the repository, keyed
// by version and by the hash of the wrapper module's files, so a warm start builds nothing and a
// change to a wrapper (or a version bump) builds anew. Binaries are static (CGO_ENABLED=0).
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CACHE_ROOT, CLUSTER_DIR, KUBERNETES_VERSION, UPSTREAM_TOOLS } from './config.js';
import { run } from './exec.js';

export type Log = (line: string) => void;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Builds into a temporary directory next to the cache entry, then renames: all or nothing. */
async function cached(entry: string, binary: string, log: Log, build: (outDir: string) => Promise<void>): Promise<string> {
  const target = join(CACHE_ROOT, entry, binary);
  if (await exists(target)) return target;
  await mkdir(CACHE_ROOT, { recursive: true });
  const work = await mkdtemp(join(CACHE_ROOT, `.build-${entry}-`));
  try {
    log(`building ${entry} (once per version; minutes on a fresh machine)`);
    const started = Date.now();
    await build(work);
    await rm(join(CACHE_ROOT, entry), { recursive: true, force: true });
    await rename(work, join(CACHE_ROOT, entry));
    log(`built ${entry} in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return target;
}

function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly -buildvcs=false', ...extra };
}

/** The hash of a wrapper module's go.mod, go.sum and Go sources. */
async function moduleHash(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of (await readdir(dir)).filter((f) => /^go\.(mod|sum)$|\.go$/.test(f)).sort()) {
    hash.update(file).update(await readFile(join(dir, file)));
  }
  return hash.digest('hex').slice(0, 12);
}

/** A binary of one of the wrapper modules in test/cluster/<module>/. */
async function wrapperBinary(module: string, label: string, ldflags: string[], log: Log): Promise<string> {
  const dir = join(CLUSTER_DIR, module);
  const entry = `${module}-${label}-${await moduleHash(dir)}`;
  return cached(entry, module, log, async (out) => {
    await run('go', ['build', '-trimpath', '-ldflags', ['-s', '-w', ...ldflags].join(' '), '-o', join(out, module), '.'], {
      cwd: dir,
      env: goEnv(),
    });
  });
}

/** Kubernetes (every component) and etcd in one multicall binary: `v6kube <component> …`. */
export function kubeBinary(log: Log): Promise<string> {
  const [major, minor] = KUBERNETES_VERSION.slice(1).split('.');
  const version = (key: string, value: string) => `-X k8s.io/component-base/version.${key}=${value}`;
  return wrapperBinary(
    'kube',
    KUBERNETES_VERSION,
    [version('gitVersion', KUBERNETES_VERSION), version('gitMajor', major ?? ''), version('gitMinor', minor ?? ''), version('gitTreeState', 'clean')],
    log,
  );
}

export const corednsBinary = (log: Log) => wrapperBinary('coredns', 'v1.14.7', [], log);

/** An upstream module's command, built as `go install pkg@version` with the module's own go.sum. */
export function upstreamBinary(name: keyof typeof UPSTREAM_TOOLS, log: Log): Promise<string> {
  const { pkg, version } = UPSTREAM_TOOLS[name];
  return cached(`${name}-${version}`, name, log, async (out) => {
    await run('go', ['install', '-trimpath', '-ldflags', '-s -w', `${pkg}@${version}`], { env: goEnv({ GOBIN: out, GOFLAGS: '-buildvcs=false' }) });
    const built = pkg.split('/').at(-1) ?? name;
    if (built !== name) await rename(join(out, built), join(out, name));
  });
}
