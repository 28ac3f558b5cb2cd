// The Pod Security Standards "restricted" settings every pod the agent creates carries: the run's
// algorithm pods and the isolation probe alike. Pure.
import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';
import type { Config } from '../config.js';

/** The pod's context: a fixed non-root user and group, the runtime's default seccomp profile. */
export function restrictedPodSecurityContext(run: Config['kubernetes']['run']): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: run.run_as_user,
    runAsGroup: run.run_as_group,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The container's context: no privilege, no escalation, no capabilities, a read-only root. */
export function restrictedContainerSecurityContext(): V1SecurityContext {
  return {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  };
}
