/**
 * What a vantage6 5 run reads (the 5.x contract §5.2, §5.5): an extraction run exactly one
 * `source` database of the node; every other action the session's dataframes, named in
 * `task.databases` and grouped by the argument `position` they fill. Pure; a task that asks for
 * something the node cannot give fails with a message that says what (upstream's statuses).
 */
import { RunNotRunnableError } from '../errors.js';
import type { Action } from './actions.js';
import { RunStatus } from './run-status.js';
import type { ServerTaskDatabase } from '../server/types.js';

/** algorithm-tools' `DATAFRAME_WITHIN_GROUP_SEPARATOR` and `DATAFRAME_BETWEEN_GROUPS_SEPARATOR`. */
const WITHIN_GROUP = ',';
const BETWEEN_GROUPS = ';';

/** The longest dataframe name the node stores (`<name>.parquet` must be a file name on any file system). */
const MAX_NAME_BYTES = 200;

/**
 * Whether `name` can be a dataframe's file name: `<name>.parquet` in the session folder and
 * nowhere else. HQ takes any string as a name, and upstream joins it to the folder as it is.
 */
export function isDataframeName(name: string): boolean {
  return name !== '' && !name.includes('/') && !name.includes('\0') && Buffer.byteLength(name) <= MAX_NAME_BYTES;
}

function checkedName(name: string | null | undefined, what: string): string {
  if (typeof name !== 'string' || !isDataframeName(name)) {
    throw new RunNotRunnableError(
      RunStatus.Failed,
      `${what} has no usable dataframe name (${JSON.stringify(name ?? null)}): names are 1 to ${MAX_NAME_BYTES} bytes without '/'.`,
    );
  }
  return name;
}

/**
 * The dataframes a non-extraction run reads, one group per argument position in position order.
 * Throws (`failed`) when an entry is not a dataframe, as upstream does.
 */
export function requestedDataframes(databases: readonly ServerTaskDatabase[]): string[][] {
  const groups = new Map<number, string[]>();
  for (const [index, db] of databases.entries()) {
    if (db.type !== 'dataframe') {
      throw new RunNotRunnableError(
        RunStatus.Failed,
        `The task's database ${index} is a ${db.type ?? 'database without a type'} ('${db.label ?? ''}'); only a data extraction reads a source database, every other action reads session dataframes.`,
      );
    }
    const position = db.position ?? 0;
    groups.set(position, [...(groups.get(position) ?? []), checkedName(db.dataframe_name, `The task's database ${index}`)]);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([, names]) => names);
}

/** `USER_REQUESTED_DATAFRAMES`: names joined by ',' within a position and ';' between positions. */
export function userRequestedDataframes(groups: readonly (readonly string[])[]): string {
  return groups.map((group) => group.join(WITHIN_GROUP)).join(BETWEEN_GROUPS);
}

/**
 * The label of the one source database an extraction run reads. Throws (`failed`) for none, more
 * than one, a dataframe, or a label this node does not have, naming what the node has.
 */
export function extractionSource(databases: readonly ServerTaskDatabase[], nodeLabels: readonly string[]): string {
  if (databases.length !== 1 || databases[0]!.type !== 'source') {
    throw new RunNotRunnableError(
      RunStatus.Failed,
      `A data extraction reads exactly one source database; the task asks for ${databases.length === 1 ? `a ${databases[0]!.type ?? 'database without a type'}` : `${databases.length} databases`}.`,
    );
  }
  const label = databases[0]!.label;
  if (!nodeLabels.includes(label)) {
    throw new RunNotRunnableError(
      RunStatus.Failed,
      `This node has no database labelled '${label}'; its databases are: ${nodeLabels.length === 0 ? '(none)' : nodeLabels.join(', ')}.`,
    );
  }
  return label;
}

/** The dataframe an extraction or preprocessing run produces; throws (`failed`) when the task names none usable. */
export function producedDataframe(action: Action, dataframe: { id: number; name: string } | null | undefined): { id: number; name: string } {
  if (dataframe === null || dataframe === undefined || !Number.isSafeInteger(dataframe.id)) {
    throw new RunNotRunnableError(RunStatus.Failed, `A ${action} task must name the dataframe it produces; this one names none.`);
  }
  return { id: dataframe.id, name: checkedName(dataframe.name, `The ${action} task`) };
}
