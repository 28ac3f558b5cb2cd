// The Job's podFailurePolicy applied to one failed pod, as the Job controller evaluates it: rules in
// order, the first match decides; no match counts the failure against backoffLimit.
import type { IPodFailurePolicy } from 'kubernetes-models/batch/v1/PodFailurePolicy';
import type { IPodFailurePolicyRule } from 'kubernetes-models/batch/v1/PodFailurePolicyRule';
import type { IPod } from 'kubernetes-models/v1/Pod';

/** What a failed pod means for its Job. `FailIndex` (indexed Jobs) is not simulated. */
export type PodFailureAction = 'FailJob' | 'Ignore' | 'Count';

export interface PodFailureVerdict {
  action: PodFailureAction;
  /** The message the controller puts on the Job's condition, for a matched rule. */
  message?: string;
}

/** The verdict for a pod in phase Failed; the default (no policy, no match) is `Count`. */
export function judgePodFailure(policy: IPodFailurePolicy | undefined, pod: IPod): PodFailureVerdict {
  for (const [index, rule] of (policy?.rules ?? []).entries()) {
    const matched = matchExitCodes(rule, pod) ?? matchConditions(rule, pod);
    if (matched === undefined) continue;
    const action = rule.action === 'FailJob' || rule.action === 'Ignore' ? rule.action : 'Count';
    return { action, message: `${matched} matching ${rule.action} rule at index ${index}` };
  }
  return { action: 'Count' };
}

function matchExitCodes(rule: IPodFailurePolicyRule, pod: IPod): string | undefined {
  const requirement = rule.onExitCodes;
  if (!requirement) return undefined;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const status of statuses) {
    if (requirement.containerName !== undefined && requirement.containerName !== status.name) continue;
    const exitCode = status.state?.terminated?.exitCode;
    if (exitCode === undefined || exitCode === 0) continue;
    const listed = requirement.values.includes(exitCode);
    if (requirement.operator === 'In' ? listed : !listed) {
      return `Container ${status.name} for pod ${pod.metadata?.namespace}/${pod.metadata?.name} failed with exit code ${exitCode}`;
    }
  }
  return undefined;
}

function matchConditions(rule: IPodFailurePolicyRule, pod: IPod): string | undefined {
  for (const pattern of rule.onPodConditions ?? []) {
    const wanted = pattern.status ?? 'True';
    const found = pod.status?.conditions?.find((c) => c.type === pattern.type && c.status === wanted);
    if (found) return `Pod ${pod.metadata?.namespace}/${pod.metadata?.name} has condition ${pattern.type}`;
  }
  return undefined;
}
