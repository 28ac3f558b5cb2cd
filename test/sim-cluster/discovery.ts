// Discovery documents (/version, /api, /apis, /api/v1, /apis/<group>/<version>); pure.
import { resourceTypes, type ResourceType } from './resources.js';

export const serverVersion = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-sim',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.4',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export function coreVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupDocument(group: string): object {
  const versions = [...new Set(resourceTypes.filter((t) => t.group === group).map((t) => t.version))].map((version) => ({
    groupVersion: `${group}/${version}`,
    version,
  }));
  return { name: group, versions, preferredVersion: versions[0] };
}

export function apiGroupList(): object {
  const groups = [...new Set(resourceTypes.map((t) => t.group).filter((g) => g !== ''))];
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupDocument) };
}

export function apiGroup(group: string): object {
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(group) };
}

const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function resourceEntries(type: ResourceType): object[] {
  const main = {
    name: type.plural,
    singularName: type.kind.toLowerCase(),
    namespaced: type.namespaced,
    kind: type.kind,
    verbs: type.plural === 'selfsubjectaccessreviews' ? ['create'] : type.plural === 'namespaces' ? verbs.filter((v) => v !== 'deletecollection') : verbs,
    ...(type.shortNames.length > 0 ? { shortNames: type.shortNames } : {}),
  };
  const subs = type.subresources.map((sub) => ({
    name: `${type.plural}/${sub}`,
    singularName: '',
    namespaced: type.namespaced,
    kind: sub === 'log' ? 'Pod' : type.kind,
    verbs: sub === 'log' ? ['get'] : ['get', 'patch', 'update'],
  }));
  return [main, ...subs];
}

export function apiResourceList(group: string, version: string): object {
  return {
    kind: 'APIResourceList',
    ...(group === '' ? {} : { apiVersion: 'v1' }),
    groupVersion: group === '' ? version : `${group}/${version}`,
    resources: resourceTypes.filter((t) => t.group === group && t.version === version).flatMap(resourceEntries),
  };
}
