// Who may do what in the simulated cluster: everything, unless a test denies it. The API server
// asks before every resource request (403 Forbidden, worded as RBAC words it) and answers
// SelfSubjectAccessReviews (authorization.k8s.io/v1) from the same rules.

/** A request as the authorizer sees it (Kubernetes' authorizer.Attributes, for resources). */
export interface AccessAttributes {
  readonly verb: string;
  /** '' for the core group. */
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string | undefined;
  /** Absent for cluster-scoped requests and lists across all namespaces. */
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
}

/** A denial: every field given must match; the ones left out match anything. */
export type DenyRule = Partial<AccessAttributes>;

/** The user every request of the simulated cluster runs as (its kubeconfig has no credentials). */
export const SIM_USER = 'system:serviceaccount:sim:agent';

export class Authorizer {
  private denials: DenyRule[] = [];

  /** Denies what matches `rule` from now on, for requests and reviews alike. */
  deny(rule: DenyRule): void {
    this.denials.push({ ...rule });
  }

  /** Allows everything again. */
  reset(): void {
    this.denials = [];
  }

  allows(attributes: AccessAttributes): boolean {
    return !this.denials.some((rule) =>
      (Object.keys(rule) as Array<keyof AccessAttributes>).every((key) => (rule[key] ?? '') === (attributes[key] ?? '')),
    );
  }

  /** The Forbidden message the real API server gives for a denied request. */
  static forbiddenMessage(attributes: AccessAttributes): string {
    const resource = attributes.subresource === undefined ? attributes.resource : `${attributes.resource}/${attributes.subresource}`;
    const qualified = attributes.group === '' ? resource : `${resource}.${attributes.group}`;
    const named = attributes.name === undefined ? qualified : `${qualified} "${attributes.name}"`;
    const scope = attributes.namespace === undefined ? 'at the cluster scope' : `in the namespace "${attributes.namespace}"`;
    return `${named} is forbidden: User "${SIM_USER}" cannot ${attributes.verb} resource "${resource}" in API group "${attributes.group}" ${scope}`;
  }
}

/** The verb of a resource request, as the API server's request-info resolver names it. */
export function requestVerb(method: string, hasName: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : hasName ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return hasName ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}
