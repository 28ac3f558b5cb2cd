import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { until } from './fixture.js';
import { Kubelet, type KubeletOptions } from './kubelet.js';
import { Store, type KubeObject } from './store.js';
import { waitForStore } from './store-wait.js';

const NODE = process.execPath;

interface Env {
  store: Store;
  kubelet: Kubelet;
  dir: string;
  pvcDir: string;
}

async function setup(t: ExecutionContext, options: Partial<KubeletOptions> = {}): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'v6-kubelet-'));
  const pvcDir = join(dir, 'pvc');
  await mkdir(pvcDir);
  const store = new Store();
  const kubelet = new Kubelet(store, {
    stateDir: join(dir, 'state'),
    images: { 'sim/node:1': { command: [NODE] }, 'sim/sh': { command: ['/bin/sh', '-c'], env: { FROM_IMAGE: 'image' } } },
    pvcs: { data: pvcDir },
    imagePullBackOffMs: 100,
    maxGracePeriodMs: 300,
    ...options,
  });
  t.teardown(async () => {
    await kubelet.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, kubelet, dir, pvcDir };
}

function pod(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { restartPolicy: 'Never', ...spec } };
}

function sh(script: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'main', image: 'sim/sh', args: [script], ...extra };
}

type PodStatus = { phase?: string; conditions?: Array<{ type: string; status: string; reason?: string }>; containerStatuses?: Array<{ ready: boolean; state?: Record<string, Record<string, unknown>> }> };

function status(store: Store, name: string): PodStatus | undefined {
  return store.get('pods', 'default', name)?.['status'] as PodStatus | undefined;
}

function terminal(store: Store, name: string): PodStatus | undefined {
  const s = status(store, name);
  return s?.phase === 'Succeeded' || s?.phase === 'Failed' ? s : undefined;
}

test('a pod reads its Secret and a PVC subPath at their mountPaths, writes to the PVC, and gets env from Secret, ConfigMap and fieldRef', async (t) => {
  const { store, kubelet, dir, pvcDir } = await setup(t);
  await mkdir(join(pvcDir, 'run-1'));
  await writeFile(join(pvcDir, 'run-1', 'input.csv'), 'a,b\n1,2\n');
  store.create('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'default' }, stringData: { token: 's3cret' } });
  store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default' }, data: { MODE: 'fast' } });
  const mnt = join(dir, 'mnt');
  store.create('pods', pod('reader', {
    containers: [sh(
      'cat $MNT/secret/token > $MNT/data/output.txt; echo " $(wc -l < $MNT/data/input.csv) $TOKEN $MODE $POD $FROM_IMAGE" >> $MNT/data/output.txt; echo done',
      {
        env: [
          { name: 'MNT', value: mnt },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
          { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        ],
        envFrom: [{ configMapRef: { name: 'cfg' } }],
        volumeMounts: [
          { name: 'secret', mountPath: join(mnt, 'secret') },
          { name: 'data', mountPath: join(mnt, 'data'), subPath: 'run-1' },
        ],
      },
    )],
    volumes: [{ name: 'secret', secret: { secretName: 'creds' } }, { name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
  }));
  const done = await waitForStore(store, () => terminal(store, 'reader'), 'reader to finish');
  t.is(done.phase, 'Succeeded');
  t.is(done.containerStatuses?.[0]?.state?.['terminated']?.['reason'], 'Completed');
  t.is(done.containerStatuses?.[0]?.state?.['terminated']?.['exitCode'], 0);
  t.is(await readFile(join(pvcDir, 'run-1', 'output.txt'), 'utf8'), 's3cret 2 s3cret fast reader image\n');
  t.is(await kubelet.readPodLog('default', 'reader', undefined), 'done\n');
  const scheduled = store.get('pods', 'default', 'reader')!;
  t.is((scheduled['spec'] as { nodeName: string }).nodeName, 'sim-node');
});

test('a readOnly mount refuses writes', async (t) => {
  const { store, kubelet, dir, pvcDir } = await setup(t);
  const target = join(dir, 'ro');
  store.create('pods', pod('ro', {
    containers: [sh(`echo x > ${target}/f && echo wrote || echo refused`, { volumeMounts: [{ name: 'data', mountPath: target, readOnly: true }] })],
    volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
  }));
  await waitForStore(store, () => terminal(store, 'ro'), 'ro to finish');
  const log = (await kubelet.readPodLog('default', 'ro', undefined)) ?? '';
  t.regex(log, /Read-only file system/);
  t.regex(log, /^refused$/m);
  await t.throwsAsync(readFile(join(pvcDir, 'f')));
});

test('a non-root pod reads its Secret through fsGroup, as on a real node: files belong to the group, the process has it', async (t) => {
  const { store, kubelet, dir } = await setup(t);
  await chmod(dir, 0o755); // the non-root process must reach the mount point below the test dir
  const target = join(dir, 'secret');
  store.create('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'default' }, data: { token: Buffer.from('abc').toString('base64') } });
  store.create('pods', pod('nonroot', {
    securityContext: { runAsUser: 10000, runAsGroup: 10000, fsGroup: 20000 },
    containers: [sh(`id -G; cat ${target}/token && echo; ls -ln ${target}/token`, { volumeMounts: [{ name: 's', mountPath: target }] })],
    volumes: [{ name: 's', secret: { secretName: 's', defaultMode: 0o440 } }],
  }));
  await waitForStore(store, () => terminal(store, 'nonroot'), 'nonroot to finish');
  const log = (await kubelet.readPodLog('default', 'nonroot', undefined)) ?? '';
  t.regex(log, /^10000 20000$/m);
  t.regex(log, /^abc$/m);
  t.regex(log, /^-r--r----- 1 0 20000 /m);
  t.is(terminal(store, 'nonroot')?.phase, 'Succeeded', log);
});

test('an unknown image goes from ErrImagePull to ImagePullBackOff and the pod stays Pending', async (t) => {
  const { store } = await setup(t);
  store.create('pods', pod('nope', { containers: [{ name: 'main', image: 'registry.example.org/missing:1' }] }));
  const reason = (r: string) => () => status(store, 'nope')?.containerStatuses?.[0]?.state?.['waiting']?.['reason'] === r ? true : undefined;
  await waitForStore(store, reason('ErrImagePull'), 'ErrImagePull');
  await waitForStore(store, reason('ImagePullBackOff'), 'ImagePullBackOff');
  t.is(status(store, 'nope')?.phase, 'Pending');
  const waiting = status(store, 'nope')?.containerStatuses?.[0]?.state?.['waiting'];
  t.is(
    waiting?.['message'],
    'Back-off pulling image "registry.example.org/missing:1": ErrImagePull: failed to pull and unpack image "registry.example.org/missing:1": failed to resolve reference "registry.example.org/missing:1": not found',
  );
});

test('a missing Secret key is CreateContainerConfigError until the Secret has it', async (t) => {
  const { store } = await setup(t);
  store.create('pods', pod('cfg', { containers: [sh('echo $K', { env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 'later', key: 'k' } } }] })] }));
  // ContainerCreating first, while the sandbox comes up, as on a real node.
  const configError = () => status(store, 'cfg')?.containerStatuses?.[0]?.state?.['waiting'];
  const waiting = await waitForStore(store, () => (configError()?.['reason'] === 'CreateContainerConfigError' ? configError() : undefined), 'config error');
  t.is(waiting['reason'], 'CreateContainerConfigError');
  t.is(waiting['message'], 'secret "later" not found');
  store.create('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'later', namespace: 'default' }, stringData: { k: 'v' } });
  t.is((await waitForStore(store, () => terminal(store, 'cfg'), 'cfg to finish')).phase, 'Succeeded');
});

test('a claim without a host dir leaves the pod unschedulable', async (t) => {
  const { store } = await setup(t);
  store.create('pods', pod('unbound', { containers: [sh('true')], volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'elsewhere' } }] }));
  const condition = await waitForStore(store, () => status(store, 'unbound')?.conditions?.find((c) => c.type === 'PodScheduled'), 'PodScheduled');
  t.is(condition.reason, 'Unschedulable');
  t.is(status(store, 'unbound')?.phase, 'Pending');
  t.true(store.list('events').some((e) => e['reason'] === 'FailedScheduling'));
});

test('deleting a running pod stops its process (SIGTERM) before the pod disappears', async (t) => {
  const { store, kubelet } = await setup(t);
  store.create('pods', pod('sleeper', {
    containers: [sh("trap 'echo got-term; exit 143' TERM; echo started $$$$; while true; do sleep 0.05; done")],
  }));
  const log = await waitForStore(store, () => status(store, 'sleeper')?.phase === 'Running' ? kubelet.logs('default', 'sleeper', undefined, { follow: true }) : undefined, 'running');
  let followed = '';
  let sawStart!: () => void;
  const started = new Promise<void>((resolve) => { sawStart = resolve; });
  const ended = (async () => {
    for await (const chunk of log) {
      followed += String(chunk);
      if (followed.includes('started')) sawStart();
    }
  })();
  await started;
  store.delete('pods', 'default', 'sleeper');
  t.truthy(store.get('pods', 'default', 'sleeper')?.metadata.deletionTimestamp, 'graceful: only marked first');
  await waitForStore(store, () => (store.get('pods', 'default', 'sleeper') === undefined ? true : undefined), 'pod to go');
  await ended;
  const match = /^started (\d+)\n/.exec(followed);
  t.regex(followed, /^got-term$/m);
  t.truthy(match, `the follow stream saw the trap run, then ended: ${followed}`);
  t.throws(() => process.kill(Number(match![1]), 0), { code: 'ESRCH' }, 'the process is gone');
});

test('exceeding limits.memory is OOMKilled with exit code 137', async (t) => {
  const { store } = await setup(t);
  store.create('pods', pod('hog', {
    containers: [{
      name: 'main', image: 'sim/node:1',
      args: ['-e', 'const a = []; setInterval(() => { a.push(Buffer.alloc(8 << 20, 1)); }, 5);'],
      resources: { limits: { memory: '64Mi' } },
    }],
  }));
  const done = await waitForStore(store, () => terminal(store, 'hog'), 'hog to finish');
  t.is(done.phase, 'Failed');
  t.like(done.containerStatuses?.[0]?.state?.['terminated'], { reason: 'OOMKilled', exitCode: 137 });
});

test('a command missing from PATH is a StartError with exit code 128, as containerd reports it', async (t) => {
  const { store } = await setup(t);
  store.create('pods', pod('missing-tool', { containers: [{ name: 'main', image: 'sim/sh', command: ['v6-sim-no-such-tool'] }] }));
  const done = await waitForStore(store, () => terminal(store, 'missing-tool'), 'missing-tool to finish');
  t.is(done.phase, 'Failed');
  t.like(done.containerStatuses?.[0]?.state?.['terminated'], { reason: 'StartError', exitCode: 128, message: 'exec: "v6-sim-no-such-tool": executable file not found in $PATH' });
});

test('a hostPath of a file is bound onto a file, and a missing hostPath folder is made (as containerd does)', async (t) => {
  const { store, dir } = await setup(t);
  const hostFile = join(dir, 'host-config.txt');
  await writeFile(hostFile, 'from the host');
  const missing = join(dir, 'made-by-the-runtime');
  const inPod = join(dir, 'pod-view');
  store.create('pods', pod('hostpaths', {
    containers: [sh(`cat ${inPod}/config.txt > ${inPod}/out/copied`, {
      volumeMounts: [{ name: 'file', mountPath: `${inPod}/config.txt` }, { name: 'missing', mountPath: `${inPod}/out` }],
    })],
    volumes: [{ name: 'file', hostPath: { path: hostFile } }, { name: 'missing', hostPath: { path: missing } }],
  }));
  t.is((await waitForStore(store, () => terminal(store, 'hostpaths'), 'hostpaths to finish')).phase, 'Succeeded');
  t.is(await readFile(join(missing, 'copied'), 'utf8'), 'from the host');
});

test('a hostPath whose type does not match what is there fails the mount, naming the check', async (t) => {
  const { store, dir } = await setup(t);
  store.create('pods', pod('typed', {
    containers: [sh('true', { volumeMounts: [{ name: 'v', mountPath: join(dir, 'x') }] })],
    volumes: [{ name: 'v', hostPath: { path: join(dir, 'absent'), type: 'Directory' } }],
  }));
  const event = await waitForStore(store, () => store.list('events').find((e) => e['reason'] === 'FailedMount'), 'FailedMount');
  t.regex(String(event['message']), /hostPath type check failed: .*absent is not a directory/);
  t.is(status(store, 'typed')?.phase, 'Pending');
});

test('mount points the host lacks are made in the container\'s own root: nothing appears on the host, while the pod runs or after', async (t) => {
  const { store, kubelet, dir, pvcDir } = await setup(t);
  const id = randomBytes(4).toString('hex');
  const task = `/mnt/v6-sim-${id}/task-1`; // below a folder the host has
  const app = `/v6-sim-${id}/app`; // a new top-level folder
  const cache = `${app}/cache`; // inside another volume
  const conf = `/etc/v6-sim-${id}.conf`; // a file beside the host's own
  const work = `/v6-sim-${id}/work`; // a workingDir the host lacks
  const created = [`/mnt/v6-sim-${id}`, `/v6-sim-${id}`, conf];
  const shadowed = ['/', '/mnt', '/etc'];
  t.teardown(() => Promise.all(created.map((path) => rm(path, { recursive: true, force: true })))); // only a failing run leaves them
  const before = shadowed.map((folder) => readdirSync(folder).sort());
  store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app', namespace: 'default' }, data: { 'app.conf': 'setting=1' } });
  store.create('pods', pod('rooted', {
    containers: [sh([
      'set -e',
      `pwd > ${task}/pwd`,
      `cat ${conf} > ${task}/conf`,
      `echo a > ${app}/a && echo c > ${cache}/c && ls ${app} > ${task}/app`,
      `ls /mnt > ${task}/mnt && head -1 /etc/passwd > ${task}/passwd`,
      `echo through > ${dir}/host-write`,
      `touch ${task}/ready`,
      `while [ ! -e ${task}/release ]; do sleep 0.02; done`,
    ].join('\n'), {
      workingDir: work,
      volumeMounts: [
        { name: 'data', mountPath: task },
        { name: 'scratch', mountPath: app },
        { name: 'cache', mountPath: cache },
        { name: 'cfg', mountPath: conf, subPath: 'app.conf' },
      ],
    })],
    volumes: [
      { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
      { name: 'scratch', emptyDir: {} },
      { name: 'cache', emptyDir: {} },
      { name: 'cfg', configMap: { name: 'app' } },
    ],
  }));
  await until(() => existsSync(join(pvcDir, 'ready')) || terminal(store, 'rooted') !== undefined, 'rooted to be ready', 20_000);
  const running = created.filter((path) => existsSync(path));
  await writeFile(join(pvcDir, 'release'), '');
  const done = await waitForStore(store, () => terminal(store, 'rooted'), 'rooted to finish');
  const log = (await kubelet.readPodLog('default', 'rooted', undefined)) ?? '';
  t.is(done.phase, 'Succeeded', log);
  t.deepEqual(running, [], 'nothing made on the host while the pod runs');
  t.deepEqual(created.filter((path) => existsSync(path)), [], 'nor after');
  t.deepEqual(shadowed.map((folder) => readdirSync(folder).sort()), before, 'the host\'s folders are as they were');
  t.is(await readFile(join(pvcDir, 'pwd'), 'utf8'), `${work}\n`);
  t.is(await readFile(join(pvcDir, 'conf'), 'utf8'), 'setting=1');
  t.is(await readFile(join(pvcDir, 'app'), 'utf8'), 'a\ncache\n');
  t.is(await readFile(join(pvcDir, 'mnt'), 'utf8'), [...before[1]!, `v6-sim-${id}`].sort().map((name) => `${name}\n`).join(''), 'the host\'s /mnt, with the new folder');
  t.is(await readFile(join(pvcDir, 'passwd'), 'utf8'), `${(await readFile('/etc/passwd', 'utf8')).split('\n')[0]}\n`);
  t.is(await readFile(join(dir, 'host-write'), 'utf8'), 'through\n', 'the host\'s other paths are the host\'s');
});
