/**
 * Whether the agent may do in its namespace what running a run takes, asked of the API server
 * itself: a SelfSubjectAccessReview per verb (every authenticated user may create those, so no
 * RBAC is needed for them), and a dry-run create of a Secret, which only admission can answer:
 * that the namespace exists (and is not being deleted). Checked at start and in readiness; the
 * answer names each missing permission or object, so the admin knows what to grant or create.
 * Readiness asks again at every probe while something is missing, so a fix shows at once, but a
 * complete answer stands for a while: ten requests a probe made an idle node's readiness its
 * largest use of the API server (measured beside upstream's node: 319 of 804 requests in 100 runs).
 */
import { AuthorizationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { apiMessage, apiStatus } from './api-errors.js';
import { within } from '../within.js';

/** One permission: a verb on a resource (group '' is the core group) in the agent's namespace. */
export interface Permission {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
}

/** The calls of agent/cluster/*.ts and agent/isolation/probe.ts (the chart's Role grants exactly these). */
export const REQUIRED_PERMISSIONS: readonly Permission[] = [
  ...['create', 'get', 'list', 'watch', 'delete'].map((verb) => ({ verb, group: 'batch', resource: 'jobs' })),
  { verb: 'create', group: '', resource: 'secrets' },
  ...['list', 'watch'].map((verb) => ({ verb, group: '', resource: 'pods' })),
  { verb: 'get', group: '', resource: 'pods', subresource: 'log' },
];

/** `create batch/jobs`, `get pods/log`: as `kubectl auth can-i` spells them. */
export function describePermission(permission: Permission): string {
  const resource = permission.subresource === undefined ? permission.resource : `${permission.resource}/${permission.subresource}`;
  return `${permission.verb} ${permission.group === '' ? resource : `${permission.group}/${resource}`}`;
}

/** What is missing, as sentences for logs and /readyz; empty when the agent may do its work. */
export interface AccessReport {
  readonly missing: readonly string[];
}

/** Asks the API server; never throws (a failed question is reported as what could not be checked). */
export function accessCheck(kubeConfig: KubeConfig, namespace: string, timeoutMs = 3_000): () => Promise<AccessReport> {
  const authorization = kubeConfig.makeApiClient(AuthorizationV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const review = async (permission: Permission): Promise<string | undefined> => {
    try {
      const answer = await authorization.createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { namespace, ...permission } } },
      });
      return answer.status?.allowed === true ? undefined : `may not ${describePermission(permission)} in namespace ${namespace} (grant it in the agent's Role)`;
    } catch (error) {
      return `cannot check whether it may ${describePermission(permission)}: ${apiMessage(error)}`;
    }
  };
  const namespaceExists = async (): Promise<string | undefined> => {
    try {
      await core.createNamespacedSecret({ namespace, dryRun: 'All', body: { metadata: { name: 'v6-node-access-check' } } });
      return undefined;
    } catch (error) {
      if (apiStatus(error) === 404) return `namespace ${namespace} does not exist (create it, or set kubernetes.namespace)`;
      if (apiStatus(error) === 403 && apiMessage(error).includes('being terminated')) return `namespace ${namespace} is being deleted`;
      // Another 403 is a permission the reviews name already; a 409 (a Secret of that name) proves the namespace.
      if (apiStatus(error) === 403 || apiStatus(error) === 409) return undefined;
      return `cannot check namespace ${namespace}: ${apiMessage(error)}`;
    }
  };
  return async () => {
    const answers = await within(
      Promise.all([namespaceExists(), ...REQUIRED_PERMISSIONS.map(review)]),
      timeoutMs,
      [`the Kubernetes API did not answer the access check within ${timeoutMs / 1000} s`],
    );
    return { missing: answers.filter((answer): answer is string => answer !== undefined) };
  };
}

/** How long readiness takes a complete access report as it is before asking the API server again. */
export const COMPLETE_ACCESS_RECHECK_MS = 5 * 60_000;

/**
 * `check`, asked again only while its last answer had something missing or is older than
 * `completeForMs`. Concurrent callers share one question.
 */
export function recheckedAccess(
  check: () => Promise<AccessReport>,
  first: { report: AccessReport; at: number },
  completeForMs = COMPLETE_ACCESS_RECHECK_MS,
  now: () => number = Date.now,
): () => Promise<AccessReport> {
  let last = first;
  let pending: Promise<AccessReport> | undefined;
  return () => {
    if (last.report.missing.length === 0 && now() - last.at < completeForMs) return Promise.resolve(last.report);
    pending ??= check()
      .then((report) => {
        last = { report, at: now() };
        return report;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}
