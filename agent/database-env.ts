// Databases given as environment variables, as vantage6 5's node chart gives them to its node
// (`vantage6-5-protocol.md` §8): `DATABASE_LABELS` (comma-separated), and for each label
// `DATABASE_<L>_URI`, `DATABASE_<L>_TYPE` and any other `DATABASE_<L>_<KEY>`, the database's
// parameters. `<L>` is the label with `-` as `_`, upper-cased (vantage6-common
// `database_env_label`). They become `databases[]` entries, so the config file's rules apply to
// them and a problem names the variable it came from. Pure: environment in, entries out.

/** The `databases[]` entries the environment gives, and which variable each field came from. */
export interface DatabasesFromEnv {
  readonly databases: Record<string, unknown>[];
  /** Config path (`databases.0.uri`) → the variable that gave it. */
  readonly sources: ReadonlyMap<string, string>;
}

export const DATABASE_LABELS = 'DATABASE_LABELS';

/** vantage6-common's `database_env_label`. */
export function databaseEnvLabel(label: string): string {
  return label.replaceAll('-', '_').toUpperCase();
}

/** The entries `DATABASE_LABELS` names; undefined when it is unset or lists no label. */
export function databasesFromEnv(env: NodeJS.ProcessEnv): DatabasesFromEnv | undefined {
  const labels = (env[DATABASE_LABELS] ?? '')
    .split(',')
    .map((label) => label.trim())
    .filter((label) => label !== '');
  if (labels.length === 0) return undefined;
  const prefixes = labels.map((label) => `DATABASE_${databaseEnvLabel(label)}_`);
  const sources = new Map<string, string>();
  const databases = labels.map((label, i) => {
    const prefix = prefixes[i]!;
    // Labels db and db_x: DATABASE_DB_X_URI is db_x's, not a parameter X_URI of db.
    const others = prefixes.filter((other) => other !== prefix && other.startsWith(prefix));
    const uriName = `${prefix}URI`;
    const typeName = `${prefix}TYPE`;
    sources.set(`databases.${i}.label`, DATABASE_LABELS);
    sources.set(`databases.${i}.uri`, uriName);
    sources.set(`databases.${i}.type`, typeName);
    const parameters: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) {
      if (!name.startsWith(prefix) || name === uriName || name === typeName || value === undefined) continue;
      if (others.some((other) => name.startsWith(other))) continue;
      const key = name.slice(prefix.length);
      parameters[key] = value;
      sources.set(`databases.${i}.env.${key}`, name);
    }
    return {
      label,
      // Unset or empty: left out, so that the problem reads "required (from DATABASE_<L>_URI)".
      ...(env[uriName] ? { uri: env[uriName] } : {}),
      ...(env[typeName] ? { type: env[typeName] } : {}),
      ...(Object.keys(parameters).length === 0 ? {} : { env: parameters }),
    };
  });
  return { databases, sources };
}
