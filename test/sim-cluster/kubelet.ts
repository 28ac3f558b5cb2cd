// The simulated node: scheduler and kubelet in one. It binds every unscheduled pod to this node
// (when its PersistentVolumeClaims are bound, i.e. have a host dir), then runs each container
// as a host process (see container-process.ts), writing the pod's status through the store as a
// real kubelet does. Level-triggered: events enqueue the pod's key; `sync` compares the pod with
// what runs and acts. Graceful deletion as the real one: deleting a pod this kubelet runs only
// sets its deletionTimestamp (the store keeps it for its grace period), the kubelet stops the
// containers (SIGTERM, SIGKILL after the grace period), writes the final status and deletes the
// pod with grace period 0. Init containers are not run: the only one the agent adds is the
// isolation gate (agent/isolation/gate.ts), which waits for NetworkPolicies, and the simulation
// has none; its pods start as if the gate had passed.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { IContainerState } from 'kubernetes-models/v1/ContainerState';
import type { IPod } from 'kubernetes-models/v1/Pod';
import { rfc3339, systemClock, type Clock } from './clock.js';
import { containerEnv, ContainerConfigError, expandVars, type ConfigLookup } from './container-env.js';
import { ContainerLog, type LogReadOptions } from './container-log.js';
import { ContainerProcess, type ContainerExit } from './container-process.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { recordEvent } from './events.js';
import { containerArgv, loadImageMap, normalizeImageRef, type ImageMap, type SimImage } from './image-map.js';
import { podStatusFor, type ObservedContainer } from './pod-status.js';
import { containerMounts, readOnlyVolumeNames, setUpVolumes, VolumeSetupError, type VolumeLookup } from './pod-volumes.js';
import { parseQuantity } from './quantity.js';
import { resourceType } from './resources.js';
import type { KubeObject, Store, StoreEvent } from './store.js';
import { WorkQueue } from './work-queue.js';

export interface KubeletOptions {
  /** Per-pod dirs (volumes, logs, wrapper scripts) go under `<stateDir>/pods/<pod uid>`. */
  stateDir: string;
  /** Image reference → simulated image; a JSON file path or the map. */
  images?: string | ImageMap;
  /** PersistentVolumeClaim name → host directory; a claim not listed is unbound. */
  pvcs?: Readonly<Record<string, string>>;
  /** Default 'sim-node'. */
  nodeName?: string;
  clock?: Clock;
  /** How long an unknown image shows ErrImagePull before ImagePullBackOff (default 1000). */
  imagePullBackOffMs?: number;
  /** Cap on a pod's terminationGracePeriodSeconds, to keep deletions short (default 2000). */
  maxGracePeriodMs?: number;
  /** Retry delay for volumes that cannot be set up yet (default 1000). */
  volumeRetryMs?: number;
  /** Memory sampling interval for containers with a memory limit (default 50). */
  memoryPollMs?: number;
  onError?: (key: string, error: unknown) => void;
}

interface ContainerRuntime extends ObservedContainer {
  log?: ContainerLog;
  process?: ContainerProcess;
}

interface PodRuntime {
  uid: string;
  dir: string;
  sandboxReady: boolean;
  started: boolean;
  /** Its containers are being stopped for the pod's deletion. */
  terminating?: boolean;
  pullFailedAt?: number;
  containers: Map<string, ContainerRuntime>;
}

export class Kubelet {
  readonly nodeName: string;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #stateDir: string;
  readonly #pvcs: Readonly<Record<string, string>>;
  readonly #images: Promise<Map<string, SimImage>>;
  readonly #pullBackOffMs: number;
  readonly #maxGraceMs: number;
  readonly #volumeRetryMs: number;
  readonly #memoryPollMs: number;
  readonly #queue: WorkQueue;
  readonly #pods = new Map<string, PodRuntime>();
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(store: Store, options: KubeletOptions) {
    this.#store = store;
    this.nodeName = options.nodeName ?? 'sim-node';
    this.#clock = options.clock ?? systemClock;
    this.#stateDir = options.stateDir;
    this.#pvcs = options.pvcs ?? {};
    this.#images = loadImageMap(options.images);
    this.#images.catch(() => {}); // reported when a pod pulls
    this.#pullBackOffMs = options.imagePullBackOffMs ?? 1000;
    this.#maxGraceMs = options.maxGracePeriodMs ?? 2000;
    this.#volumeRetryMs = options.volumeRetryMs ?? 1000;
    this.#memoryPollMs = options.memoryPollMs ?? 50;
    this.#queue = new WorkQueue((key) => this.#sync(key), {
      clock: this.#clock,
      ...(options.onError ? { onError: options.onError } : {}),
    });
    this.#unsubscribe = store.on((event) => this.#onEvent(event));
    for (const pod of store.list('pods')) this.#queue.add(keyOf(pod));
  }

  /** Kills every container (no grace) and stops. Pod objects are left as they are. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    await this.#queue.close();
    const processes = [...this.#pods.values()].flatMap((p) => [...p.containers.values()].flatMap((c) => c.process ?? []));
    await Promise.all(processes.map((p) => p.stop(0)));
  }

  /**
   * A container's log as `GET pods/{name}/log` serves it. 404 when the pod does not exist; 400 when
   * the container must be named or has not started. With `follow` the stream ends when the container does.
   */
  logs(namespace: string, podName: string, container: string | undefined, options: LogReadOptions = {}): Readable {
    const pod = this.#store.get('pods', namespace, podName) as unknown as IPod | undefined;
    if (pod === undefined) throw notFound(resourceType('pods')!, podName);
    const names = pod.spec!.containers.map((c) => c.name);
    const name = container ?? (names.length === 1 ? names[0]! : undefined);
    if (name === undefined) throw badRequest(`a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]`);
    if (!names.includes(name)) throw badRequest(`container ${name} is not valid for pod ${podName}`);
    const log = this.#pods.get(keyOf(pod as unknown as KubeObject))?.containers.get(name)?.log;
    if (log === undefined || this.#pods.get(keyOf(pod as unknown as KubeObject))?.uid !== pod.metadata?.uid) {
      const waiting = pod.status?.containerStatuses?.find((s) => s.name === name)?.state?.waiting?.reason ?? 'ContainerCreating';
      // The kubelet's words for a container whose image it cannot pull.
      const why = waiting === 'ErrImagePull' || waiting === 'ImagePullBackOff' ? 'trying and failing to pull image' : waiting;
      throw badRequest(`container "${name}" in pod "${podName}" is waiting to start: ${why}`);
    }
    return log.read(options);
  }

  /** The whole log as a string, or undefined when the container has none (yet). */
  async readPodLog(namespace: string, podName: string, container: string | undefined): Promise<string | undefined> {
    let stream: Readable;
    try {
      stream = this.logs(namespace, podName, container);
    } catch (error) {
      if (error instanceof ApiError) return undefined;
      throw error;
    }
    let text = '';
    for await (const chunk of stream) text += String(chunk);
    return text;
  }

  #onEvent(event: StoreEvent): void {
    if (event.plural === 'pods') this.#queue.add(keyOf(event.object));
    if (event.plural === 'secrets' || event.plural === 'configmaps') {
      // Pods waiting for a Secret or ConfigMap retry when one changes.
      for (const pod of this.#store.list('pods', { namespace: event.object.metadata.namespace, fieldSelector: 'status.phase=Pending' })) {
        this.#queue.add(keyOf(pod));
      }
    }
  }

  async #sync(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const stored = this.#store.get('pods', namespace, name);
    let runtime = this.#pods.get(key);
    if (runtime !== undefined && runtime.uid !== stored?.metadata.uid) {
      await this.#tearDown(key, runtime, 0);
      runtime = undefined;
    }
    if (stored === undefined) return;
    const pod = stored as unknown as IPod;
    const spec = pod.spec!;
    if (spec.nodeName !== undefined && spec.nodeName !== this.nodeName) return;
    if (stored.metadata.deletionTimestamp !== undefined) {
      await this.#terminate(key, pod, runtime);
      return;
    }
    if (spec.nodeName === undefined) {
      this.#schedule(stored, pod);
      return;
    }
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed' || runtime?.started === true) return;
    await this.#startPod(key, stored, pod, runtime);
  }

  /** The scheduler's part: bind to this node once every claim is bound, else report Unschedulable. */
  #schedule(stored: KubeObject, pod: IPod): void {
    const now = this.#clock.now();
    const unbound = (pod.spec!.volumes ?? []).filter((v) => v.persistentVolumeClaim && this.#pvcs[v.persistentVolumeClaim.claimName] === undefined);
    const { namespace, name } = stored.metadata as { namespace: string; name: string };
    const scheduler = { component: 'default-scheduler' };
    if (unbound.length > 0) {
      const message = '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.';
      const already = pod.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable');
      if (already) return;
      this.#store.update('pods', namespace, name, (draft) => {
        const status = draft['status'] as NonNullable<IPod['status']>;
        status.phase = 'Pending';
        status.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: rfc3339(now) }];
      });
      recordEvent(this.#store, scheduler, stored, 'Warning', 'FailedScheduling', message, now);
      return;
    }
    this.#store.update(
      'pods',
      namespace,
      name,
      (draft) => {
        (draft['spec'] as NonNullable<IPod['spec']>).nodeName = this.nodeName;
        const status = draft['status'] as NonNullable<IPod['status']>;
        status.conditions = [{ type: 'PodScheduled', status: 'True', lastTransitionTime: rfc3339(now) }];
      },
      { binding: true },
    );
    recordEvent(this.#store, scheduler, stored, 'Normal', 'Scheduled', `Successfully assigned ${namespace}/${name} to ${this.nodeName}`, now);
  }

  async #startPod(key: string, stored: KubeObject, pod: IPod, existing: PodRuntime | undefined): Promise<void> {
    const now = this.#clock.now();
    const runtime: PodRuntime = existing ?? {
      uid: stored.metadata.uid!,
      dir: join(this.#stateDir, 'pods', stored.metadata.uid!),
      sandboxReady: false,
      started: false,
      containers: new Map(),
    };
    this.#pods.set(key, runtime);
    const source = { component: 'kubelet', host: this.nodeName };

    await mkdir(runtime.dir, { recursive: true });
    const lookup = this.#lookups(stored.metadata.namespace!);
    let volumeDirs: Map<string, string>;
    try {
      volumeDirs = await setUpVolumes(pod, runtime.dir, lookup.volumes);
    } catch (error) {
      if (!(error instanceof VolumeSetupError)) throw error;
      recordEvent(this.#store, source, stored, 'Warning', 'FailedMount', error.message, now);
      this.#queue.addAfter(key, this.#volumeRetryMs);
      return;
    }
    // The sandbox is up (volumes, an IP): its containers are ContainerCreating while their images come.
    if (!runtime.sandboxReady) {
      runtime.sandboxReady = true;
      this.#writeStatus(stored, runtime);
    }

    // Pull: an image missing from the map fails like a registry without it, and backs off.
    const images = await this.#images;
    const missing = pod.spec!.containers.find((c) => !images.has(normalizeImageRef(c.image ?? '')));
    if (missing !== undefined) {
      runtime.pullFailedAt ??= now;
      const backOff = now - runtime.pullFailedAt >= this.#pullBackOffMs;
      const image = missing.image ?? '';
      const failure = `failed to pull and unpack image "${normalizeImageRef(image)}": failed to resolve reference "${normalizeImageRef(image)}": not found`;
      const state: IContainerState = backOff
        ? { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}": ErrImagePull: ${failure}` } }
        : { waiting: { reason: 'ErrImagePull', message: failure } };
      runtime.containers.set(missing.name, { state });
      this.#writeStatus(stored, runtime);
      if (backOff) {
        recordEvent(this.#store, source, stored, 'Normal', 'BackOff', `Back-off pulling image "${image}"`, now);
        recordEvent(this.#store, source, stored, 'Warning', 'Failed', 'Error: ImagePullBackOff', now);
      } else {
        recordEvent(this.#store, source, stored, 'Normal', 'Pulling', `Pulling image "${image}"`, now);
        recordEvent(this.#store, source, stored, 'Warning', 'Failed', `Failed to pull image "${image}": ${failure}`, now);
        recordEvent(this.#store, source, stored, 'Warning', 'Failed', 'Error: ErrImagePull', now);
        this.#queue.addAfter(key, this.#pullBackOffMs);
      }
      return;
    }
    const withIp = { ...pod, status: { ...pod.status, podIP: '127.0.0.1', hostIP: '127.0.0.1' } };

    // Resolve every container's configuration before starting any, so a config error starts none.
    const launches = [];
    for (const container of pod.spec!.containers) {
      const image = images.get(normalizeImageRef(container.image ?? ''))!;
      let env: Record<string, string>;
      try {
        env = containerEnv(withIp, container, { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...image.env, HOSTNAME: pod.metadata!.name! }, lookup.config);
      } catch (error) {
        if (!(error instanceof ContainerConfigError)) throw error;
        runtime.containers.set(container.name, { state: { waiting: { reason: error.reason, message: error.message } } });
        this.#writeStatus(stored, runtime);
        recordEvent(this.#store, source, stored, 'Warning', 'Failed', `Error: ${error.message}`, now);
        return;
      }
      const mounts = await containerMounts(container, volumeDirs, env, readOnlyVolumeNames(pod));
      const security = { ...pod.spec!.securityContext, ...container.securityContext };
      const limit = container.resources?.limits?.['memory'];
      launches.push({
        container,
        launch: {
          argv: containerArgv(image, container.command, container.args).map((arg) => expandVars(arg, env)),
          env,
          ...(container.workingDir ?? image.workingDir ? { workingDir: container.workingDir ?? image.workingDir } : {}),
          mounts,
          ...(security.runAsUser === undefined ? {} : { runAsUser: security.runAsUser }),
          ...(security.runAsGroup === undefined ? {} : { runAsGroup: security.runAsGroup }),
          supplementalGroups: [
            ...(pod.spec!.securityContext?.fsGroup === undefined ? [] : [pod.spec!.securityContext.fsGroup]),
            ...(pod.spec!.securityContext?.supplementalGroups ?? []),
          ],
          ...(limit === undefined ? {} : { memoryLimitBytes: parseQuantity(limit) }),
        },
      });
    }

    for (const { container, launch } of launches) {
      const dir = join(runtime.dir, 'containers', container.name);
      await mkdir(dir, { recursive: true });
      const log = new ContainerLog(join(dir, 'container.log'), () => this.#clock.now());
      const proc = new ContainerProcess({ ...launch, log, dir }, { clock: this.#clock, memoryPollMs: this.#memoryPollMs });
      const started = rfc3339(proc.startedAt);
      const entry: ContainerRuntime = {
        log,
        process: proc,
        containerID: `sim://${proc.pid}`,
        imageID: `sim://${normalizeImageRef(container.image ?? '')}`,
        state: { running: { startedAt: started } },
      };
      runtime.containers.set(container.name, entry);
      recordEvent(this.#store, source, stored, 'Normal', 'Pulled', `Container image "${container.image}" already present on machine and can be accessed by the pod`, now);
      recordEvent(this.#store, source, stored, 'Normal', 'Created', 'Container created', now);
      recordEvent(this.#store, source, stored, 'Normal', 'Started', 'Container started', now);
      void proc.exited.then((exit) => this.#onExit(key, runtime, entry, started, exit));
    }
    runtime.started = true;
    this.#writeStatus(stored, runtime);
  }

  #onExit(key: string, runtime: PodRuntime, entry: ContainerRuntime, startedAt: string, exit: ContainerExit): void {
    entry.state = {
      terminated: {
        exitCode: exit.exitCode,
        reason: exit.reason,
        ...(exit.message === undefined ? {} : { message: exit.message }),
        startedAt,
        finishedAt: rfc3339(this.#clock.now()),
        ...(entry.containerID === undefined ? {} : { containerID: entry.containerID }),
      },
    };
    if (this.#closed || this.#pods.get(key) !== runtime) return;
    const [namespace, name] = key.split('/') as [string, string];
    const stored = this.#store.get('pods', namespace, name);
    if (stored?.metadata.uid !== runtime.uid) return;
    // Ended on its own (not stopped for a deletion): the ended containers first, the phase next.
    if (!runtime.terminating) this.#writeStatus(stored, runtime, { justEnded: true });
    this.#writeStatus(stored, runtime);
  }

  /** Graceful deletion: stop the containers, record how they ended, then let the pod go. */
  async #terminate(key: string, pod: IPod, runtime: PodRuntime | undefined): Promise<void> {
    const { namespace, name } = pod.metadata as { namespace: string; name: string };
    if (runtime !== undefined) {
      runtime.terminating = true;
      const stopping = [...runtime.containers.entries()].filter(([, c]) => c.process !== undefined && c.state.terminated === undefined);
      // The period the delete asked for (deletionGracePeriodSeconds), as a real kubelet takes it.
      const seconds = pod.metadata?.deletionGracePeriodSeconds ?? pod.spec!.terminationGracePeriodSeconds ?? 30;
      const graceMs = Math.min(seconds * 1000, this.#maxGraceMs);
      for (const [containerName] of stopping) {
        recordEvent(this.#store, { component: 'kubelet', host: this.nodeName }, pod as unknown as KubeObject, 'Normal', 'Killing', `Stopping container ${containerName}`, this.#clock.now());
      }
      await Promise.all(stopping.map(([, c]) => c.process!.stop(graceMs)));
    }
    const current = this.#store.get('pods', namespace, name);
    if (current === undefined || current.metadata.uid !== pod.metadata?.uid) return;
    this.#store.delete('pods', namespace, name, { gracePeriodSeconds: 0, preconditions: { uid: current.metadata.uid } });
    if (runtime !== undefined) await this.#tearDown(key, runtime, 0);
  }

  /** Forgets a pod: kills what still runs and removes its dir. */
  async #tearDown(key: string, runtime: PodRuntime, graceMs: number): Promise<void> {
    if (this.#pods.get(key) === runtime) this.#pods.delete(key);
    await Promise.all([...runtime.containers.values()].flatMap((c) => (c.process ? [c.process.stop(graceMs)] : [])));
    await rm(runtime.dir, { recursive: true, force: true });
  }

  #writeStatus(stored: KubeObject, runtime: PodRuntime, moment: { justEnded?: boolean } = {}): void {
    const { namespace, name } = stored.metadata as { namespace: string; name: string };
    const now = this.#clock.now();
    try {
      this.#store.update('pods', namespace, name, (draft) => {
        if (draft.metadata.uid !== runtime.uid) throw new ApiError(409, 'Conflict', 'pod was replaced');
        const status = podStatusFor(draft as unknown as IPod, { sandboxReady: runtime.sandboxReady, hostIP: '127.0.0.1', containers: runtime.containers, ...moment }, now);
        draft['status'] = status;
      });
    } catch (error) {
      if (!(error instanceof ApiError) || (error.code !== 404 && error.code !== 409)) throw error;
    }
  }

  /** Secret and ConfigMap data of the namespace, as volumes (bytes) and env (text) read it. */
  #lookups(namespace: string): { volumes: VolumeLookup; config: ConfigLookup } {
    const store = this.#store;
    const secret = (name: string): Record<string, Buffer> | undefined => {
      const found = store.get('secrets', namespace, name);
      if (found === undefined) return undefined;
      return Object.fromEntries(Object.entries((found['data'] ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
    };
    const configMap = (name: string): Record<string, Buffer> | undefined => {
      const found = store.get('configmaps', namespace, name);
      if (found === undefined) return undefined;
      const data = Object.entries((found['data'] ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v)] as const);
      const binary = Object.entries((found['binaryData'] ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')] as const);
      return Object.fromEntries([...data, ...binary]);
    };
    const text = (data: Record<string, Buffer> | undefined): Record<string, string> | undefined =>
      data === undefined ? undefined : Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString()]));
    return {
      volumes: { secret, configMap, claimDir: (claim) => this.#pvcs[claim] },
      config: { secret: (name) => text(secret(name)), configMap: (name) => text(configMap(name)) },
    };
  }
}

function keyOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`;
}

