/** The shapes of the vantage6 4.x server's answers that the node reads (spec A5). */

export interface Ref {
  readonly id: number;
}

/** `task` as included in a run (`include=task`). */
export interface ServerTask {
  readonly id: number;
  readonly name?: string;
  readonly image: string;
  readonly job_id: number;
  readonly parent: Ref | null;
  readonly init_org: Ref;
  readonly init_user: Ref;
  readonly collaboration: Ref;
  readonly algorithm_store: Ref | null;
  readonly databases: ReadonlyArray<{ label: string; parameters?: string | null }>;
}

/** A run with its task included. */
export interface ServerRun {
  readonly id: number;
  readonly input: string | null;
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
