// Parsing an API path into what it addresses; pure.
import { resourceTypes, type ResourceType } from './resources.js';

export type Route =
  | { kind: 'version' }
  | { kind: 'health' }
  | { kind: 'coreVersions' }
  | { kind: 'groups' }
  | { kind: 'group'; group: string }
  | { kind: 'resources'; group: string; version: string }
  | { kind: 'resource'; type: ResourceType; namespace?: string; name?: string; subresource?: string }
  | { kind: 'unknown' };

function groupVersionTypes(group: string, version: string): ResourceType[] {
  return resourceTypes.filter((t) => t.group === group && t.version === version);
}

function resourceRoute(types: ResourceType[], rest: string[]): Route {
  const byPlural = (plural: string | undefined) => types.find((t) => t.plural === plural);
  // /namespaces/{ns}/{plural}[/{name}[/{sub}]] addresses namespaced resources; anything else is
  // /{plural}[/{name}[/{sub}]]: cluster-scoped objects, a namespace itself, or an all-namespaces list.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const type = byPlural(rest[2]);
    if (type?.namespaced && rest.length <= 5) {
      return { kind: 'resource', type, namespace: rest[1]!, ...(rest[3] === undefined ? {} : { name: rest[3] }), ...(rest[4] === undefined ? {} : { subresource: rest[4] }) };
    }
  }
  const type = byPlural(rest[0]);
  if (type === undefined || rest.length > 3 || (type.namespaced && rest.length > 1)) return { kind: 'unknown' };
  return { kind: 'resource', type, ...(rest[1] === undefined ? {} : { name: rest[1] }), ...(rest[2] === undefined ? {} : { subresource: rest[2] }) };
}

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  if (parts[0] === 'version' && parts.length === 1) return { kind: 'version' };
  if (['healthz', 'livez', 'readyz'].includes(parts[0] ?? '')) return { kind: 'health' };
  if (parts[0] === 'api') {
    if (parts.length === 1) return { kind: 'coreVersions' };
    if (parts[1] !== 'v1') return { kind: 'unknown' };
    if (parts.length === 2) return { kind: 'resources', group: '', version: 'v1' };
    return resourceRoute(groupVersionTypes('', 'v1'), parts.slice(2));
  }
  if (parts[0] === 'apis') {
    if (parts.length === 1) return { kind: 'groups' };
    const [group, version] = [parts[1]!, parts[2]];
    if (version === undefined) return resourceTypes.some((t) => t.group === group) ? { kind: 'group', group } : { kind: 'unknown' };
    const types = groupVersionTypes(group, version);
    if (types.length === 0) return { kind: 'unknown' };
    if (parts.length === 3) return { kind: 'resources', group, version };
    return resourceRoute(types, parts.slice(3));
  }
  return { kind: 'unknown' };
}
