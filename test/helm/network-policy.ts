// A NetworkPolicy evaluator (networking.k8s.io/v1 semantics): which endpoints may open a
// connection to which, on which ports. Pure: policies and endpoints in, a matrix out.
//
// Semantics: a pod is isolated for a direction when a policy in its namespace selects it with
// that policyType; isolated traffic is allowed when some selecting policy has a rule matching the
// peer and the port. A connection needs the source's egress AND the destination's ingress.
// Endpoints outside the cluster (ipBlock only) have no policies. ipBlock peers are matched
// against pod IPs too (as Calico and Cilium do), so a wide CIDR also admits pods.
import type { V1LabelSelector, V1NetworkPolicy, V1NetworkPolicyPeer, V1NetworkPolicyPort } from '@kubernetes/client-node';

export interface Port {
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface Endpoint {
  name: string;
  ip: string;
  /** Set for pods; undefined for addresses outside the cluster. */
  pod?: { namespace: string; labels: Record<string, string> };
  /** What the endpoint listens on. */
  ports: Port[];
}

export interface Namespace {
  name: string;
  labels: Record<string, string>;
}

export function matchesSelector(selector: V1LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const expr of selector.matchExpressions ?? []) {
    const value = labels[expr.key];
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
        if (value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
      default:
        throw new Error(`unknown selector operator ${expr.operator}`);
    }
  }
  return true;
}

function ipToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

export function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const prefix = Number(bits);
  const size = 2 ** (32 - prefix);
  const start = Math.floor(ipToNumber(base!) / size) * size;
  const n = ipToNumber(ip);
  return n >= start && n < start + size;
}

function peerMatches(peer: V1NetworkPolicyPeer, policyNamespace: string, other: Endpoint, namespaces: readonly Namespace[]): boolean {
  if (peer.ipBlock !== undefined) {
    return inCidr(other.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((cidr) => inCidr(other.ip, cidr));
  }
  if (other.pod === undefined) return false;
  if (peer.namespaceSelector !== undefined) {
    const ns = namespaces.find((n) => n.name === other.pod!.namespace);
    if (ns === undefined || !matchesSelector(peer.namespaceSelector, ns.labels)) return false;
  } else if (other.pod.namespace !== policyNamespace) {
    return false;
  }
  return matchesSelector(peer.podSelector, other.pod.labels);
}

function portMatches(rulePorts: V1NetworkPolicyPort[] | undefined, port: Port): boolean {
  if (rulePorts === undefined || rulePorts.length === 0) return true;
  return rulePorts.some((p) => {
    if ((p.protocol ?? 'TCP') !== port.protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'string') throw new Error(`named port ${p.port}: the evaluator needs numbers`);
    return port.port >= p.port && port.port <= (p.endPort ?? p.port);
  });
}

type Direction = 'Ingress' | 'Egress';

function policyTypes(policy: V1NetworkPolicy): Direction[] {
  if (policy.spec?.policyTypes !== undefined) return policy.spec.policyTypes as Direction[];
  return policy.spec?.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress'];
}

/** Whether `self`'s policies let traffic go to (Egress) or come from (Ingress) `other` on `port`. */
function allowedBy(policies: readonly V1NetworkPolicy[], direction: Direction, self: Endpoint, other: Endpoint, port: Port, namespaces: readonly Namespace[]): boolean {
  if (self.pod === undefined) return true;
  const selecting = policies.filter(
    (p) => (p.metadata?.namespace ?? '') === self.pod!.namespace && matchesSelector(p.spec?.podSelector, self.pod!.labels) && policyTypes(p).includes(direction),
  );
  if (selecting.length === 0) return true;
  return selecting.some((policy) => {
    const rules = (direction === 'Ingress' ? policy.spec?.ingress : policy.spec?.egress) ?? [];
    return rules.some((rule) => {
      const peers = direction === 'Ingress' ? (rule as { _from?: V1NetworkPolicyPeer[]; from?: V1NetworkPolicyPeer[] }).from : (rule as { to?: V1NetworkPolicyPeer[] }).to;
      const peerOk = peers === undefined || peers.length === 0 || peers.some((peer) => peerMatches(peer, policy.metadata!.namespace!, other, namespaces));
      return peerOk && portMatches(rule.ports, port);
    });
  });
}

export function formatPort(p: Port): string {
  return `${p.port}/${p.protocol}`;
}

/** For each source and destination, the destination's ports the source may connect to. */
export function reachability(policies: readonly V1NetworkPolicy[], endpoints: readonly Endpoint[], namespaces: readonly Namespace[]): Record<string, Record<string, string[]>> {
  const matrix: Record<string, Record<string, string[]>> = {};
  for (const src of endpoints) {
    const row: Record<string, string[]> = {};
    for (const dst of endpoints) {
      // Self-traffic is not subject to policies; outside-to-outside is none of the cluster's business.
      if (dst === src || (src.pod === undefined && dst.pod === undefined)) continue;
      row[dst.name] = dst.ports
        .filter((port) => allowedBy(policies, 'Egress', src, dst, port, namespaces) && allowedBy(policies, 'Ingress', dst, src, port, namespaces))
        .map(formatPort)
        .sort((x, y) => x.localeCompare(y, 'en', { numeric: true }));
    }
    matrix[src.name] = row;
  }
  return matrix;
}

/** The matrix as a fixed-width table, for the test log and the README. */
export function formatMatrix(matrix: Record<string, Record<string, string[]>>): string {
  const sources = Object.keys(matrix);
  const destinations = sources;
  const cell = (s: string, d: string) => (s === d ? '·' : matrix[s]![d] === undefined ? 'n/a' : matrix[s]![d]!.join(' ') || '—');
  const header = ['from \\ to', ...destinations];
  const rows = sources.map((s) => [s, ...destinations.map((d) => cell(s, d))]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}
