// The isolation probe's Jobs: each one pod with the algorithm pod labels (so the algorithm
// NetworkPolicies select it), labelled as a run of one vantage6 action on a vantage6 5 node, and
// the same hardening as a run's pod, running a TCP connect script with `node -e`. Pure: node,
// config and targets in, the Job out.
import type { V1Affinity, V1Job } from '@kubernetes/client-node';
import type { Config, ProtocolVersion } from '../config.js';
import { LabelKey, nodeLabels, ROLE_ALGORITHM } from '../kube/names.js';
import { SCRATCH_MOUNT } from '../kube/paths.js';
import { restrictedPodSecurityContext } from '../kube/hardening.js';
import { CONNECT_FUNCTION, scriptContainer } from './script-container.js';
import { ProbeExit, type ProbeKind } from './verdict.js';

/** A TCP destination the probe connects to. */
export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
}

export interface ProbeTargets {
  /** What algorithm pods must NOT reach. */
  readonly forbidden: ProbeTarget;
  /** The proxy, as algorithms reach it (proxy.url resolved to an address, and proxy.port). */
  readonly proxy: ProbeTarget;
}

/** Label on the probe's Job and pod, apart from the algorithm labels, to find them by. */
export const PROBE_LABEL = 'vantage6.ai/isolation-probe';
export const PROBE_CONTAINER = 'probe';
/** How long the probe pod may take to be scheduled, pull, run and finish; then the verdict is `unknown`. */
export const PROBE_DEADLINE_SECONDS = 300;

/**
 * What a node probes, in this order. A 4.x node's runs carry no action: one probe, which must reach
 * the proxy. A vantage6 5 node probes as a compute run (the proxy and nothing else), then as a
 * data_extraction run, for the offline actions, which must reach nothing at all: once the first
 * probe has shown that the proxy answers, the second failing to reach it is the policies' doing.
 */
export function probeKinds(protocol: ProtocolVersion): readonly [ProbeKind, ...ProbeKind[]] {
  if (protocol === 4) return [{ action: undefined, proxy: 'reachable' }];
  return [
    { action: 'federated_compute', proxy: 'reachable' },
    { action: 'data_extraction', proxy: 'unreachable' },
  ];
}

/**
 * A probe Job's name: one per node and action, so a restarted agent finds (and replaces) its own:
 * `v6-node-<node id>-isolation-probe`, with `-<action>` (`_` as `-`) on a vantage6 5 node.
 */
export function probeJobName(nodeId: number, action: string | undefined): string {
  return `v6-node-${nodeLabels(nodeId)[LabelKey.NodeId]}-isolation-probe${action === undefined ? '' : `-${action.replaceAll('_', '-')}`}`;
}

/** Host and port of a URL (http/https default to 80/443; tcp:// has its port). IPv6 brackets removed. */
export function targetOf(url: string): ProbeTarget {
  const parsed = new URL(url);
  const port = parsed.port !== '' ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

export function describeTarget(target: ProbeTarget): string {
  return target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/**
 * What the probe checks: `isolation.forbidden_url`, by default the Kubernetes API server the
 * agent itself talks to (in a pod, the `kubernetes` Service's ClusterIP); and the proxy at the
 * address algorithms are given (`proxyUrl`, resolved by the agent: algorithm pods have no DNS).
 */
export function probeTargets(config: Pick<Config, 'isolation' | 'proxy'>, kubernetesApiServer: string | undefined, proxyUrl: string): ProbeTargets | undefined {
  const forbidden = forbiddenTarget(config, kubernetesApiServer);
  return forbidden === undefined ? undefined : { forbidden, proxy: { host: targetOf(proxyUrl).host, port: config.proxy.port } };
}

/** `isolation.forbidden_url`, else the Kubernetes API server; undefined when neither is a URL. */
export function forbiddenTarget(config: Pick<Config, 'isolation'>, kubernetesApiServer: string | undefined): ProbeTarget | undefined {
  const forbidden = config.isolation.forbidden_url ?? kubernetesApiServer;
  return forbidden === undefined || !URL.canParse(forbidden) ? undefined : targetOf(forbidden);
}

/**
 * The probe, for `node -e` (CommonJS, node:net only). It first tries the proxy until it answers
 * or `V6_PROBE_PROXY_WAIT_MS` (`isolation.proxy_wait_seconds`) passes, each attempt at most the
 * timeout, then the forbidden destination once. The wait is longer than one connect because right
 * after an install the proxy sidecar may still be starting, and the network plugin programs a new
 * pod's rules some time after the pod starts: on the real test cluster a 10 s budget ran out and
 * held the first task back a whole `retry_seconds`. (Before its rules are programmed, a pod
 * reaches anything there, for well under a second: a probe that got through then errs on the
 * safe side, not-enforced, and the next probe decides; runs have the isolation gate, gate.ts.) It
 * costs nothing when the proxy answers: the probe stops trying then. `V6_PROBE_PROXY` says whether
 * the proxy must answer (`reachable`) or must not (`unreachable`, an offline action). Exit 10: the
 * forbidden destination accepted the connection; 11: the proxy never did, and must; 12: the proxy
 * did, and must not; 0: isolated. One JSON line on stdout says what it saw.
 */
export const PROBE_SCRIPT = `
${CONNECT_FUNCTION}
const env = process.env;
const timeoutMs = Number(env.V6_PROBE_TIMEOUT_MS);
const proxyWaitMs = Math.max(timeoutMs, Number(env.V6_PROBE_PROXY_WAIT_MS || 0));
(async () => {
  const deadline = Date.now() + proxyWaitMs;
  let proxy = 'timeout';
  while (Date.now() < deadline) {
    proxy = await connect(env.V6_PROBE_PROXY_HOST, env.V6_PROBE_PROXY_PORT, Math.max(1, Math.min(timeoutMs, deadline - Date.now())));
    if (proxy === 'connected') break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const forbidden = await connect(env.V6_PROBE_FORBIDDEN_HOST, env.V6_PROBE_FORBIDDEN_PORT, timeoutMs);
  console.log(JSON.stringify({ proxy, forbidden }));
  const proxyAllowed = env.V6_PROBE_PROXY === 'reachable';
  process.exit(
    forbidden === 'connected' ? ${ProbeExit.ForbiddenReachable}
    : proxyAllowed && proxy !== 'connected' ? ${ProbeExit.ProxyUnreachable}
    : !proxyAllowed && proxy === 'connected' ? ${ProbeExit.ProxyReachable}
    : ${ProbeExit.Isolated},
  );
})();
`.trim();

/** Same pinning as a run with a ReadWriteOnce task volume: the probe tests the network path runs take. */
function pinnedTo(nodeName: string): V1Affinity {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }],
      },
    },
  };
}

export interface ProbeSpecInput {
  nodeId: number;
  /** `isolation.image`, checked by the caller. */
  image: string;
  targets: ProbeTargets;
  /** One of `probeKinds`. */
  kind: ProbeKind;
  config: Pick<Config, 'kubernetes' | 'isolation'>;
}

/** A probe Job, in the task namespace, hardened like a run's Job (agent/kube/job-spec.ts). */
export function buildProbeJob(input: ProbeSpecInput): V1Job {
  const { nodeId, targets, kind, config } = input;
  const k8s = config.kubernetes;
  const timeoutSeconds = config.isolation.timeout_seconds;
  const labels = { ...nodeLabels(nodeId), [PROBE_LABEL]: 'true' };
  const pullSecrets = config.isolation.image_pull_secrets;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: probeJobName(nodeId, kind.action), namespace: k8s.namespace, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: PROBE_DEADLINE_SECONDS,
      ttlSecondsAfterFinished: k8s.run.ttl_seconds_after_finished,
      template: {
        // The algorithm pod labels: the algorithm NetworkPolicies select this pod like a run's of its action.
        metadata: { labels: { ...labels, [LabelKey.Role]: ROLE_ALGORITHM, ...(kind.action === undefined ? {} : { [LabelKey.Action]: kind.action }) } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...(k8s.task_volume.access_mode === 'ReadWriteOnce' && k8s.node_name !== undefined ? { affinity: pinnedTo(k8s.node_name) } : {}),
          ...(pullSecrets.length === 0 ? {} : { imagePullSecrets: pullSecrets.map((name) => ({ name })) }),
          securityContext: restrictedPodSecurityContext(k8s.run),
          containers: [
            {
              ...scriptContainer(PROBE_CONTAINER, input.image, PROBE_SCRIPT, {
                V6_PROBE_FORBIDDEN_HOST: targets.forbidden.host,
                V6_PROBE_FORBIDDEN_PORT: String(targets.forbidden.port),
                V6_PROBE_PROXY_HOST: targets.proxy.host,
                V6_PROBE_PROXY_PORT: String(targets.proxy.port),
                V6_PROBE_PROXY: kind.proxy,
                V6_PROBE_TIMEOUT_MS: String(timeoutSeconds * 1000),
                // A proxy that must not answer is tried for one timeout (the script's least): no allow rule to wait for.
                V6_PROBE_PROXY_WAIT_MS: String(kind.proxy === 'reachable' ? config.isolation.proxy_wait_seconds * 1000 : 0),
              }),
              volumeMounts: [{ name: 'scratch', mountPath: SCRATCH_MOUNT }],
            },
          ],
          volumes: [{ name: 'scratch', emptyDir: { sizeLimit: '16Mi' } }],
        },
      },
    },
  };
}
