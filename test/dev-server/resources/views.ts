// JSON renderings of the server's objects, shaped like the 4.x marshmallow schemas (spec A5) as
// vantage6-server 4.15.2 answers them (test/v6-server/dev-server-fidelity.test.ts compares).
import type { ServerContext } from '../context.js';
import type { AlgorithmStoreFixture, CollaborationFixture, NodeFixture, OrganizationFixture } from '../state/fixtures.js';
import type { RunRecord, TaskRecord } from '../state/model.js';

export interface Ref {
  id: number;
  link: string;
  methods: string[];
}

function ref(ctx: ServerContext, resource: string, id: number, methods: string[] = ['GET']): Ref {
  return { id, link: `${ctx.apiPath}/${resource}/${id}`, methods };
}

/** A collection of related objects: the real server gives its URL as a plain string. */
function listLink(ctx: ServerContext, resource: string, filter: string): string {
  return `${ctx.apiPath}/${resource}?${filter}`;
}

export function renderTask(ctx: ServerContext, task: TaskRecord): Record<string, unknown> {
  return {
    id: task.id,
    name: task.name,
    description: task.description,
    image: task.image,
    collaboration: ref(ctx, 'collaboration', task.collaboration_id, ['GET', 'PATCH', 'DELETE']),
    study: null,
    job_id: task.job_id,
    parent: task.parent_id === null ? null : ref(ctx, 'task', task.parent_id, ['GET', 'DELETE']),
    init_org: ref(ctx, 'organization', task.init_org_id, ['GET', 'PATCH']),
    init_user: ref(ctx, 'user', task.init_user_id, ['GET', 'PATCH', 'DELETE']),
    algorithm_store: task.algorithm_store_id === null ? null : ref(ctx, 'algorithmstore', task.algorithm_store_id),
    databases: task.databases.map((d) => ({ label: d.label, parameters: d.parameters })),
    status: ctx.state.taskStatus(task.id),
    created_at: task.created_at,
    finished_at: ctx.state.taskFinishedAt(task.id),
    runs: listLink(ctx, 'run', `task_id=${task.id}`),
    results: listLink(ctx, 'result', `task_id=${task.id}`),
    children: listLink(ctx, 'task', `parent_id=${task.id}`),
  };
}

/** The task inside a run of RunTaskIncludedSchema: without its `runs` link. */
function renderIncludedTask(ctx: ServerContext, task: TaskRecord): Record<string, unknown> {
  const rendered = renderTask(ctx, task);
  delete rendered.runs;
  return rendered;
}

/** RunSchema (result excluded); with `includeTask`, RunTaskIncludedSchema. */
export function renderRun(ctx: ServerContext, run: RunRecord, includeTask: boolean): Record<string, unknown> {
  const task = ctx.state.tasks.get(run.task_id);
  const node = ctx.state.nodeOfRun(run);
  return {
    id: run.id,
    input: run.input,
    task: includeTask && task ? renderIncludedTask(ctx, task) : ref(ctx, 'task', run.task_id, ['GET', 'DELETE']),
    organization: ref(ctx, 'organization', run.organization_id, ['GET', 'PATCH']),
    node: node ? { id: node.id, ip: null, status: nodeStatus(ctx, node), name: node.name } : null,
    ports: [],
    results: ref(ctx, 'result', run.id, ['GET', 'PATCH']),
    assigned_at: run.assigned_at,
    started_at: run.started_at,
    finished_at: run.finished_at,
    status: run.status,
    log: run.log,
    cleanup_at: null,
    blob_storage_used: run.blob_storage_used,
  };
}

export function renderResult(ctx: ServerContext, run: RunRecord): Record<string, unknown> {
  return {
    id: run.id,
    run: ref(ctx, 'run', run.id, ['GET', 'PATCH']),
    result: run.result,
    task: ref(ctx, 'task', run.task_id, ['GET', 'DELETE']),
    cleanup_at: null,
    blob_storage_used: run.blob_storage_used,
  };
}

function nodeStatus(ctx: ServerContext, node: NodeFixture): string {
  return ctx.state.presence.get(node.id)?.online ? 'online' : 'offline';
}

export function renderNode(ctx: ServerContext, node: NodeFixture): Record<string, unknown> {
  return {
    id: node.id,
    name: node.name,
    type: 'node',
    collaboration: ref(ctx, 'collaboration', node.collaboration_id, ['GET', 'PATCH', 'DELETE']),
    organization: ref(ctx, 'organization', node.organization_id, ['GET', 'PATCH']),
    status: nodeStatus(ctx, node),
    last_seen: ctx.state.presence.get(node.id)?.last_seen ?? null,
    ip: null,
    config: [],
  };
}

export function renderOrganization(ctx: ServerContext, org: OrganizationFixture): Record<string, unknown> {
  return {
    id: org.id,
    name: org.name,
    // The real server's column defaults to an empty string: '' until a node uploads its key.
    public_key: org.public_key ?? '',
    domain: '',
    address1: '',
    address2: null,
    zipcode: '',
    country: '',
    collaborations: listLink(ctx, 'collaboration', `organization_id=${org.id}`),
    nodes: listLink(ctx, 'node', `organization_id=${org.id}`),
    users: listLink(ctx, 'user', `organization_id=${org.id}`),
    tasks: listLink(ctx, 'task', `init_org_id=${org.id}`),
    runs: listLink(ctx, 'run', `organization_id=${org.id}`),
    studies: listLink(ctx, 'study', `organization_id=${org.id}`),
  };
}

export function renderCollaboration(ctx: ServerContext, collab: CollaborationFixture): Record<string, unknown> {
  return {
    id: collab.id,
    name: collab.name,
    encrypted: collab.encrypted,
    organizations: listLink(ctx, 'organization', `collaboration_id=${collab.id}`),
    nodes: listLink(ctx, 'node', `collaboration_id=${collab.id}`),
    tasks: listLink(ctx, 'task', `collaboration_id=${collab.id}`),
    algorithm_stores: listLink(ctx, 'algorithmstore', `collaboration_id=${collab.id}`),
    studies: listLink(ctx, 'study', `collaboration_id=${collab.id}`),
  };
}

export function renderStore(store: AlgorithmStoreFixture): Record<string, unknown> {
  return { id: store.id, name: store.name, url: store.url, all_collaborations: true };
}
