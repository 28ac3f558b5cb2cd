/**
 * The shapes of the vantage6 server's answers that the node reads: 4.x (spec A5) and a 5 hub's
 * (agent/protocol/vantage6-5-protocol.md §3.1), whose runs carry `arguments` and `action` and
 * whose tasks carry `method`, their session and dataframes.
 */

export interface Ref {
  readonly id: number;
}

/**
 * One of `task.databases`: in 4.x a database label with optional parameters; in 5 a `source`
 * database (label) or a session `dataframe` (id, name, and the argument `position` it fills).
 */
export interface ServerTaskDatabase {
  /** The database label (4.x; a 5 `source`); a 5 `dataframe` entry may have it null. */
  readonly label: string;
  readonly parameters?: string | null;
  readonly type?: string | null;
  readonly dataframe_id?: number | null;
  readonly dataframe_name?: string | null;
  readonly position?: number | null;
}

/** `task` as included in a run (`include=task`). */
export interface ServerTask {
  readonly id: number;
  readonly name?: string;
  readonly image: string;
  readonly job_id: number;
  readonly parent: Ref | null;
  readonly init_org: Ref;
  /** Null in 5 for a task no person created. */
  readonly init_user: Ref | null;
  readonly collaboration: Ref;
  readonly algorithm_store: Ref | null;
  readonly databases: readonly ServerTaskDatabase[];
  /** 5: the function the algorithm runs (`ALGORITHM_METHOD`). */
  readonly method?: string | null;
  /** 5: the session whose dataframes the run reads or writes. */
  readonly session?: Ref | null;
  /** 5: the dataframe an extraction or preprocessing task produces. */
  readonly dataframe?: { readonly id: number; readonly name: string } | null;
}

/** A run with its task included. */
export interface ServerRun {
  readonly id: number;
  /** 4.x: the encrypted (or base64) input. */
  readonly input?: string | null;
  /** 5: the encrypted (or base64) keyword arguments. */
  readonly arguments?: string | null;
  /** 5: what the run does (`data_extraction`, …, `central_compute`). */
  readonly action?: string | null;
  readonly status: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  readonly blob_storage_used?: boolean | null;
  readonly organization?: Ref | null;
  readonly task: ServerTask;
}

/** A page of a paginated list. */
export interface Page<T> {
  readonly data: readonly T[];
  readonly links?: { readonly next?: string | null } | null;
}

/** The body of `PATCH run/<id>`. The server sets result, log and finished_at from every PATCH, so a final one carries all four. */
export interface RunPatch {
  readonly started_at?: string;
  readonly status?: string;
  readonly result?: string;
  readonly log?: string | null;
  readonly finished_at?: string | null;
}
