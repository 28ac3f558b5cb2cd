// What the isolation probe's pods say about the cluster, as a verdict. Pure: a probe pod in, its
// verdict (or "not yet") out; a node's verdict from its probes; whether a verdict lets the agent
// launch runs.
import type { V1Pod } from '@kubernetes/client-node';

/** The verdicts of one probe. */
export type IsolationVerdict = 'enforced' | 'not-enforced' | 'proxy-unreachable' | 'unknown';
/** What the agent reports: a verdict, `pending` before the first one, `not-probed` with `isolation.probe: false`. */
export type IsolationState = IsolationVerdict | 'pending' | 'not-probed';

export interface ProbeOutcome {
  readonly verdict: IsolationVerdict;
  /** A sentence for the log: what the probe saw, or why it could not tell. */
  readonly reason: string;
  /**
   * The vantage6 action the probe pod was labelled as, when the outcome is one probe's of a
   * vantage6 5 node: unless `enforced`, the action whose rule failed.
   */
  readonly action?: string;
}

/**
 * One probe: its pod labelled as a run of `action` (vantage6.ai/action; undefined for a 4.x node,
 * whose runs carry none) and held to that action's rule: the proxy and nothing else, or (the
 * offline actions data_extraction and preprocessing) nothing at all.
 */
export interface ProbeKind {
  readonly action: string | undefined;
  readonly proxy: 'reachable' | 'unreachable';
}

/** What a probe connects to, as the log shows it (`host:port`). */
export interface ShownTargets {
  readonly forbidden: string;
  readonly proxy: string;
}

/** The probe script's exit codes (probe-spec.ts). */
export const ProbeExit = { Isolated: 0, ForbiddenReachable: 10, ProxyUnreachable: 11, ProxyReachable: 12 } as const;

/** The waiting reasons after which the probe container will not start by itself. */
const PULL_ERRORS = ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'];
const START_ERRORS = ['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'CrashLoopBackOff', 'ContainerCannotRun'];

function detail(message: string | undefined): string {
  return message === undefined || message === '' ? '' : `: ${message}`;
}

/** The probe pod, in a reason: which run it stood for. */
function probePod(kind: ProbeKind): string {
  return kind.action === undefined ? 'the probe pod' : `the probe pod labelled as a ${kind.action} run`;
}

/** The verdict of an exit code of the probe script. */
export function outcomeOfExitCode(exitCode: number, kind: ProbeKind, targets: ShownTargets): ProbeOutcome {
  const pod = probePod(kind);
  switch (exitCode) {
    case ProbeExit.Isolated:
      return {
        verdict: 'enforced',
        reason: kind.proxy === 'reachable' ? `${pod} reached the proxy at ${targets.proxy} and not ${targets.forbidden}` : `${pod} reached neither the proxy at ${targets.proxy} nor ${targets.forbidden}`,
      };
    case ProbeExit.ForbiddenReachable:
      return {
        verdict: 'not-enforced',
        reason: `${pod} reached ${targets.forbidden}, which the algorithm NetworkPolicies forbid: the cluster's network plugin does not enforce NetworkPolicies`,
      };
    case ProbeExit.ProxyUnreachable:
      return {
        verdict: 'proxy-unreachable',
        reason: `${pod} did not reach ${targets.forbidden} (good) but neither the proxy at ${targets.proxy}: the proxy is down or the policies block it, so isolation cannot be confirmed`,
      };
    case ProbeExit.ProxyReachable:
      return {
        verdict: 'not-enforced',
        reason:
          `${pod} did not reach ${targets.forbidden} but did reach the proxy at ${targets.proxy}: the NetworkPolicies let data_extraction and preprocessing runs reach it, ` +
          "where they must allow them nothing; install the chart of this agent's version (its -algorithms-offline NetworkPolicy) or a policy of your own " +
          'that selects pods labelled vantage6.ai/action in (data_extraction, preprocessing) and allows nothing',
      };
    default:
      return { verdict: 'unknown', reason: `the probe container exited with code ${exitCode}, which is not a probe verdict` };
  }
}

/**
 * The outcome a probe pod shows, or undefined while it has yet to finish: a terminated
 * container gives its exit code's verdict; an image that cannot be pulled, a container that
 * cannot start or a failed pod without an exit code give `unknown` with the reason.
 */
export function outcomeOfPod(pod: V1Pod, kind: ProbeKind, targets: ShownTargets): ProbeOutcome | undefined {
  const container = pod.status?.containerStatuses?.[0];
  const terminated = container?.state?.terminated;
  if (terminated !== undefined) {
    if (terminated.reason === 'OOMKilled') return { verdict: 'unknown', reason: 'the probe container ran out of memory (OOMKilled)' };
    return outcomeOfExitCode(terminated.exitCode, kind, targets);
  }
  const waiting = container?.state?.waiting;
  if (waiting?.reason !== undefined && PULL_ERRORS.includes(waiting.reason)) {
    return { verdict: 'unknown', reason: `the probe image ${container?.image ?? ''} cannot be pulled (${waiting.reason})${detail(waiting.message)}` };
  }
  if (waiting?.reason !== undefined && START_ERRORS.includes(waiting.reason)) {
    return { verdict: 'unknown', reason: `the probe container cannot be started (${waiting.reason})${detail(waiting.message)}` };
  }
  if (pod.status?.phase === 'Failed') {
    return { verdict: 'unknown', reason: `the probe pod failed${pod.status.reason === undefined ? '' : ` (${pod.status.reason})`}${detail(pod.status.message)}` };
  }
  return undefined;
}

/**
 * A node's verdict from its probes, run in order until one was not `enforced`: that one's outcome
 * (naming its action), else `enforced` with what every probe saw.
 */
export function overallOutcome(outcomes: readonly ProbeOutcome[]): ProbeOutcome {
  return outcomes.find((o) => o.verdict !== 'enforced') ?? { verdict: 'enforced', reason: outcomes.map((o) => o.reason).join('; ') };
}

/**
 * Whether runs may be launched: with `enforced`, with `not-probed` (the admin turned the probe
 * off), or with anything when the admin allows unenforced isolation. Everything else — no
 * verdict yet, not enforced, proxy unreachable, unknown — holds launches (fail closed).
 */
export function allowsLaunches(state: IsolationState, allowUnenforced: boolean): boolean {
  return allowUnenforced || state === 'enforced' || state === 'not-probed';
}
