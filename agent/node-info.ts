import type { Config } from './config.js';
import type { IsolationState } from './isolation/verdict.js';

/**
 * The `node_info_update` payload (spec A4): what the node allows and which databases it has,
 * so the server and researchers can see its configuration, and whether its algorithm pods are
 * isolated from the network (`network_isolation`: the isolation probe's verdict). Pure.
 */
export function nodeInfo(config: Config, networkIsolation?: IsolationState): Record<string, unknown> {
  const { policies } = config;
  const list = (value: string | readonly (string | number)[] | null | undefined) =>
    value === undefined || value === null ? undefined : Array.isArray(value) ? value : [value];
  const info: Record<string, unknown> = {
    encryption: config.encryption.enabled,
    allowed_algorithms: list(policies.allowed_algorithms) ?? 'all',
    database_labels: config.databases.map((db) => db.label),
    database_types: Object.fromEntries(config.databases.map((db) => [`db_type_${db.label}`, db.type])),
  };
  const users = list(policies.allowed_users);
  const orgs = list(policies.allowed_organizations);
  if (users) info.allowed_users = users;
  if (orgs) info.allowed_orgs = orgs;
  if (networkIsolation !== undefined) info.network_isolation = networkIsolation;
  return info;
}
