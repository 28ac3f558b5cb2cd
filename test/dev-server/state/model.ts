// The server's in-memory database: tasks, runs, blobs, node presence, and what tests read back
// (PATCH bodies received, events emitted). Pure state transitions; no I/O.
import { randomUUID } from 'node:crypto';
import type { Fixtures, NodeFixture, OrganizationFixture } from './fixtures.js';
import { formatServerDatetime } from './datetime.js';

/** vantage6-common TaskStatus values (spec A7), verbatim. */
export const RUN_STATUSES = [
  'pending', 'initializing', 'active', 'completed', 'failed', 'start failed',
  'non-existing Docker image', 'crashed', 'killed by user', 'not allowed', 'unknown error',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export function isRunStatus(value: unknown): value is RunStatus {
  return (RUN_STATUSES as readonly unknown[]).includes(value);
}

export function hasFailed(status: string): boolean {
  return !['initializing', 'active', 'completed', 'pending'].includes(status);
}

export function hasFinished(status: string): boolean {
  return status === 'completed' || hasFailed(status);
}

export interface TaskDatabase {
  label: string;
  /** Compact JSON of the database object without `label`. */
  parameters: string;
}

export interface TaskRecord {
  id: number;
  name: string;
  description: string;
  image: string;
  collaboration_id: number;
  job_id: number;
  parent_id: number | null;
  init_org_id: number;
  init_user_id: number;
  algorithm_store_id: number | null;
  databases: TaskDatabase[];
  created_at: string;
}

export interface RunRecord {
  id: number;
  task_id: number;
  organization_id: number;
  input: string;
  result: string | null;
  log: string | null;
  status: string;
  assigned_at: string;
  started_at: string | null;
  finished_at: string | null;
  blob_storage_used: boolean;
}

export interface NodePresence {
  online: boolean;
  last_seen: string | null;
  /** The last `node_info_update` payload. */
  info: unknown;
}

/** A PATCH /run/<id> as received, with the status code it was answered with. */
export interface PatchRecord {
  run_id: number;
  node_id: number;
  body: unknown;
  status: number;
}

/** A socket.io event the server emitted on namespace /tasks. */
export interface EmittedEvent {
  room: string;
  event: string;
  data: unknown;
}

export interface NewTask {
  name: string;
  description: string;
  image: string;
  collaboration_id: number;
  parent_id: number | null;
  job_id: number | null;
  init_org_id: number;
  init_user_id: number;
  algorithm_store_id: number | null;
  databases: TaskDatabase[];
  organizations: { id: number; input: string }[];
  blob_storage_used: boolean;
}

/** A validated PATCH /run body (spec A6) with datetimes already parsed; absent keys are undefined. */
export interface RunPatch {
  started_at?: string;
  finished_at?: string;
  result?: string;
  log?: string;
  status?: string;
}

export interface KillEntry {
  task_id: number;
  run_id: number;
  organization_id: number;
}

export class DevServerState {
  readonly tasks = new Map<number, TaskRecord>();
  readonly runs = new Map<number, RunRecord>();
  readonly blobs = new Map<string, Buffer>();
  readonly presence = new Map<number, NodePresence>();
  readonly patches: PatchRecord[] = [];
  readonly events: EmittedEvent[] = [];
  private lastTaskId = 0;
  private lastRunId = 0;
  private lastJobId = 0;

  constructor(
    readonly fixtures: Fixtures,
    private readonly clock: () => Date,
  ) {
    for (const node of fixtures.nodes) this.presence.set(node.id, { online: false, last_seen: null, info: null });
  }

  now(): string {
    return formatServerDatetime(this.clock());
  }

  organization(id: number): OrganizationFixture | undefined {
    return this.fixtures.organizations.find((o) => o.id === id);
  }

  node(id: number): NodeFixture | undefined {
    return this.fixtures.nodes.find((n) => n.id === id);
  }

  /** The node that executes a run: its organization's node in the task's collaboration. */
  nodeOfRun(run: RunRecord): NodeFixture | undefined {
    const task = this.tasks.get(run.task_id);
    return this.fixtures.nodes.find(
      (n) => n.organization_id === run.organization_id && n.collaboration_id === task?.collaboration_id,
    );
  }

  runsOfTask(taskId: number): RunRecord[] {
    return [...this.runs.values()].filter((r) => r.task_id === taskId);
  }

  /** The task status the 4.x server derives from its runs. */
  taskStatus(taskId: number): string {
    const statuses = this.runsOfTask(taskId).map((r) => r.status);
    if (statuses.some(hasFailed)) return 'failed';
    for (const alive of ['active', 'initializing', 'pending']) if (statuses.includes(alive)) return alive;
    return 'completed';
  }

  /** The latest finished_at of the runs once the task has finished, else null. */
  taskFinishedAt(taskId: number): string | null {
    if (!hasFinished(this.taskStatus(taskId))) return null;
    const times = this.runsOfTask(taskId).map((r) => r.finished_at).filter((t): t is string => t !== null);
    return times.sort().at(-1) ?? null;
  }

  createTask(spec: NewTask): TaskRecord {
    const task: TaskRecord = {
      id: ++this.lastTaskId,
      name: spec.name,
      description: spec.description,
      image: spec.image,
      collaboration_id: spec.collaboration_id,
      job_id: spec.job_id ?? ++this.lastJobId,
      parent_id: spec.parent_id,
      init_org_id: spec.init_org_id,
      init_user_id: spec.init_user_id,
      algorithm_store_id: spec.algorithm_store_id,
      databases: spec.databases,
      created_at: this.now(),
    };
    this.tasks.set(task.id, task);
    for (const org of spec.organizations) {
      const run: RunRecord = {
        id: ++this.lastRunId,
        task_id: task.id,
        organization_id: org.id,
        input: org.input,
        result: null,
        log: null,
        status: 'pending',
        assigned_at: this.now(),
        started_at: null,
        finished_at: null,
        blob_storage_used: spec.blob_storage_used,
      };
      this.runs.set(run.id, run);
    }
    return task;
  }

  /**
   * Applies a PATCH like the 4.x server: result, log and finished_at are overwritten (null when
   * omitted), started_at and status kept when omitted. A failure status fails the task's
   * unstarted siblings. Returns the sibling runs that were failed.
   */
  patchRun(run: RunRecord, patch: RunPatch): RunRecord[] {
    run.started_at = patch.started_at ?? run.started_at;
    run.finished_at = patch.finished_at ?? null;
    run.result = patch.result ?? null;
    run.log = patch.log ?? null;
    run.status = patch.status ?? run.status;
    if (!hasFailed(run.status)) return [];
    const siblings = this.runsOfTask(run.task_id).filter(
      (r) => r.id !== run.id && r.started_at === null && r.finished_at === null,
    );
    for (const sibling of siblings) {
      sibling.status = 'failed';
      sibling.finished_at = this.now();
      sibling.log = `Marked as failed because sibling run id=${run.id} failed with status '${run.status}'.`;
    }
    return siblings;
  }

  /** Sets every unfinished run of the task and its descendants to `killed by user`. */
  killTask(taskId: number): KillEntry[] {
    const killed: KillEntry[] = [];
    for (const id of this.taskAndDescendants(taskId)) {
      for (const run of this.runsOfTask(id)) {
        if (hasFinished(run.status)) continue;
        run.status = 'killed by user';
        run.finished_at = this.now();
        killed.push({ task_id: run.task_id, run_id: run.id, organization_id: run.organization_id });
      }
    }
    return killed;
  }

  private taskAndDescendants(taskId: number): number[] {
    const children = [...this.tasks.values()].filter((t) => t.parent_id === taskId);
    return [taskId, ...children.flatMap((c) => this.taskAndDescendants(c.id))];
  }

  storeBlob(data: Buffer): string {
    const uuid = randomUUID();
    this.blobs.set(uuid, data);
    return uuid;
  }

  setPresence(nodeId: number, change: Partial<NodePresence>): void {
    const current = this.presence.get(nodeId) ?? { online: false, last_seen: null, info: null };
    this.presence.set(nodeId, { ...current, ...change });
  }
}
