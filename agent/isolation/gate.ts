// The isolation gate: an init container in every algorithm pod that lets the algorithm start only
// once the pod's NetworkPolicies are in effect. A network plugin programs a new pod's rules some
// time after the pod has its address; until then the pod reaches anything. On the real test
// cluster (kube-router) a pod in a namespace that denies all egress opened a connection at once,
// every time, and was refused a second later. The gate tries what the isolation probe must not
// reach (`isolation.forbidden_url`, by default the Kubernetes API) until it is refused or times
// out; the algorithm's container, in the same network namespace, starts after. Pure: config and
// the API server's address in, the container out.
import type { V1Container } from '@kubernetes/client-node';
import type { Config } from '../config.js';
import { describeTarget, forbiddenTarget, type ProbeTarget } from './probe-spec.js';
import { CONNECT_FUNCTION, scriptContainer } from './script-container.js';

export const GATE_CONTAINER = 'wait-for-isolation';
/** How long the gate waits for the policies; then the pod fails and the run is `start failed`. */
export const GATE_WAIT_SECONDS = 60;
/** One attempt: a connection the network lets through is accepted within milliseconds in a cluster. */
export const GATE_ATTEMPT_MS = 500;
/** The gate's exit code when the policies were not in effect in time. */
export const GATE_EXIT_NOT_ISOLATED = 1;

/** What the gate checks, and with which image. */
export interface IsolationGate {
  /** `isolation.image`: an image with node on its PATH (the agent's own). */
  readonly image: string;
  readonly forbidden: ProbeTarget;
  readonly imagePullSecrets: readonly string[];
}

/**
 * The gate for this node's runs: whenever the isolation probe runs and runs must be isolated.
 * None with `isolation.probe: false` or `isolation.allow_unenforced: true`, where the admin runs
 * tasks without confirmed isolation (the gate would hold every run back on a cluster that does
 * not enforce NetworkPolicies), with `isolation.gate: false` (a network plugin that programs a
 * pod's rules before it starts), or without a destination to test.
 */
export function isolationGateFor(config: Pick<Config, 'isolation'>, kubernetesApiServer: string | undefined): IsolationGate | undefined {
  const { isolation } = config;
  if (!isolation.probe || isolation.allow_unenforced || !isolation.gate || isolation.image === undefined) return undefined;
  const forbidden = forbiddenTarget(config, kubernetesApiServer);
  return forbidden === undefined ? undefined : { image: isolation.image, forbidden, imagePullSecrets: isolation.image_pull_secrets };
}

/**
 * For `node -e`: tries `V6_GATE_FORBIDDEN_HOST:PORT` every 100 ms, each attempt at most
 * `V6_GATE_ATTEMPT_MS`, until it is not connected (exit 0) or `V6_GATE_WAIT_MS` has passed (exit
 * GATE_EXIT_NOT_ISOLATED, with a sentence that becomes the container's termination message).
 */
export const GATE_SCRIPT = `
${CONNECT_FUNCTION}
const env = process.env;
const started = Date.now();
(async () => {
  for (;;) {
    const result = await connect(env.V6_GATE_FORBIDDEN_HOST, env.V6_GATE_FORBIDDEN_PORT, Number(env.V6_GATE_ATTEMPT_MS));
    const waitedMs = Date.now() - started;
    if (result !== 'connected') {
      console.log(JSON.stringify({ forbidden: result, waitedMs }));
      process.exit(0);
    }
    if (waitedMs >= Number(env.V6_GATE_WAIT_MS)) {
      console.log('the pod still reached ' + env.V6_GATE_FORBIDDEN + ' ' + Math.round(waitedMs / 1000) + ' s after it started: its NetworkPolicies are not in effect, so the algorithm was not started');
      process.exit(${GATE_EXIT_NOT_ISOLATED});
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
})();
`.trim();

/** The init container, hardened like the algorithm's; it gets no token, volume or variable of the run. */
export function gateContainer(gate: IsolationGate): V1Container {
  return scriptContainer(GATE_CONTAINER, gate.image, GATE_SCRIPT, {
    V6_GATE_FORBIDDEN_HOST: gate.forbidden.host,
    V6_GATE_FORBIDDEN_PORT: String(gate.forbidden.port),
    V6_GATE_FORBIDDEN: describeTarget(gate.forbidden),
    V6_GATE_ATTEMPT_MS: String(GATE_ATTEMPT_MS),
    V6_GATE_WAIT_MS: String(GATE_WAIT_SECONDS * 1000),
  });
}
