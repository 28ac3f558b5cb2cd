// What the isolation probe's pod says about the cluster, as a verdict. Pure: the probe pod in,
// the verdict (or "not yet") out, and whether a verdict lets the agent launch runs.
import type { V1Pod } from '@kubernetes/client-node';

/** The verdicts of one probe. */
export type IsolationVerdict = 'enforced' | 'not-enforced' | 'proxy-unreachable' | 'unknown';
/** What the agent reports: a verdict, `pending` before the first one, `not-probed` with `isolation.probe: false`. */
export type IsolationState = IsolationVerdict | 'pending' | 'not-probed';

export interface ProbeOutcome {
  readonly verdict: IsolationVerdict;
  /** A sentence for the log: what the probe saw, or why it could not tell. */
  readonly reason: string;
}

/** The probe script's exit codes (probe-spec.ts). */
export const ProbeExit = { Isolated: 0, ForbiddenReachable: 10, ProxyUnreachable: 11 } as const;

/** The waiting reasons after which the probe container will not start by itself. */
const PULL_ERRORS = ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'];
const START_ERRORS = ['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'CrashLoopBackOff', 'ContainerCannotRun'];

function detail(message: string | undefined): string {
  return message === undefined || message === '' ? '' : `: ${message}`;
}

/** The verdict of an exit code of the probe script. */
export function outcomeOfExitCode(exitCode: number, targets: { forbidden: string; proxy: string }): ProbeOutcome {
  switch (exitCode) {
    case ProbeExit.Isolated:
      return { verdict: 'enforced', reason: `the probe pod reached the proxy at ${targets.proxy} and not ${targets.forbidden}` };
    case ProbeExit.ForbiddenReachable:
      return {
        verdict: 'not-enforced',
        reason: `the probe pod reached ${targets.forbidden}, which the algorithm NetworkPolicies forbid: the cluster's network plugin does not enforce NetworkPolicies`,
      };
    case ProbeExit.ProxyUnreachable:
      return {
        verdict: 'proxy-unreachable',
        reason: `the probe pod did not reach ${targets.forbidden} (good) but neither the proxy at ${targets.proxy}: the proxy is down or the policies block it, so isolation cannot be confirmed`,
      };
    default:
      return { verdict: 'unknown', reason: `the probe container exited with code ${exitCode}, which is not a probe verdict` };
  }
}

/**
 * The outcome the probe pod shows, or undefined while it has yet to finish: a terminated
 * container gives its exit code's verdict; an image that cannot be pulled, a container that
 * cannot start or a failed pod without an exit code give `unknown` with the reason.
 */
export function outcomeOfPod(pod: V1Pod, targets: { forbidden: string; proxy: string }): ProbeOutcome | undefined {
  const container = pod.status?.containerStatuses?.[0];
  const terminated = container?.state?.terminated;
  if (terminated !== undefined) {
    if (terminated.reason === 'OOMKilled') return { verdict: 'unknown', reason: 'the probe container ran out of memory (OOMKilled)' };
    return outcomeOfExitCode(terminated.exitCode, targets);
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
 * Whether runs may be launched: with `enforced`, with `not-probed` (the admin turned the probe
 * off), or with anything when the admin allows unenforced isolation. Everything else — no
 * verdict yet, not enforced, proxy unreachable, unknown — holds launches (fail closed).
 */
export function allowsLaunches(state: IsolationState, allowUnenforced: boolean): boolean {
  return allowUnenforced || state === 'enforced' || state === 'not-probed';
}
