// /task/<id> and POST /task from a researcher or from an algorithm container (spec A10): one run
// per organization, then `new_task {id, parent_id}` to the collaboration room.
import type { ServerContext } from '../context.js';
import { canSeeCollaboration, FORBIDDEN } from '../auth/access.js';
import type { ContainerIdentity } from '../auth/tokens.js';
import { collaborationOrganizationIds } from '../state/fixtures.js';
import { hasFinished, type NewTask, type TaskDatabase, type TaskRecord } from '../state/model.js';
import { HttpError, idParam, msg, objectBody, type Router } from '../http/router.js';
import { renderTask } from './views.js';

interface TaskBody {
  name: string;
  description: string;
  image: string;
  collaboration_id: number;
  organizations: { id: number; input: string }[];
  databases: unknown[];
  store_id: number | null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validateTaskBody(body: Record<string, unknown>): TaskBody {
  const errors: Record<string, string[]> = {};
  const required = (key: string, ok: boolean, message: string): void => {
    if (body[key] === undefined) errors[key] = ['Missing data for required field.'];
    else if (!ok) errors[key] = [message];
  };
  required('image', typeof body.image === 'string' && body.image !== '', 'Not a valid string.');
  required('collaboration_id', Number.isInteger(body.collaboration_id), 'Not a valid integer.');
  const orgs = body.organizations;
  required(
    'organizations',
    Array.isArray(orgs) && orgs.length > 0 && orgs.every((o) => isObject(o) && Number.isInteger(o.id) && typeof (o.input ?? '') === 'string'),
    'Organizations must be a non-empty list of {id, input}.',
  );
  for (const key of ['name', 'description']) {
    if (body[key] !== undefined && typeof body[key] !== 'string') errors[key] = ['Not a valid string.'];
  }
  if (body.store_id !== undefined && body.store_id !== null && !Number.isInteger(body.store_id)) errors.store_id = ['Not a valid integer.'];
  const databases = body.databases;
  if (databases !== undefined && databases !== null && typeof databases !== 'string' && !Array.isArray(databases)) {
    errors.databases = ['Not a valid list.'];
  }
  if (Object.keys(errors).length > 0) throw new HttpError(400, { msg: 'Request body is incorrect', errors });
  return {
    name: (body.name as string | undefined) ?? '',
    description: (body.description as string | undefined) ?? '',
    image: body.image as string,
    collaboration_id: body.collaboration_id as number,
    organizations: (orgs as { id: number; input?: string }[]).map((o) => ({ id: o.id, input: o.input ?? '' })),
    databases: typeof databases === 'string' ? [{ label: databases }] : ((databases as unknown[] | null | undefined) ?? []),
    store_id: (body.store_id as number | null | undefined) ?? null,
  };
}

/** Python's json.dumps(x, separators=(",", ":")): compact, non-ASCII escaped. */
function pythonCompactJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function taskDatabases(databases: unknown[]): TaskDatabase[] {
  return databases.map((database) => {
    if (!isObject(database) || typeof database.label !== 'string') {
      throw msg(400, `Database label missing! The dictionary ${JSON.stringify(database)} should contain a 'label' key`);
    }
    const { label, ...parameters } = database;
    return { label, parameters: pythonCompactJson(parameters) };
  });
}

/** The server's check that inputs are encrypted exactly when the collaboration is. */
function checkInputEncryption(organizations: { input: string }[], encrypted: boolean): void {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  for (const { input } of organizations) {
    let readable = true;
    try {
      utf8.decode(Buffer.from(input, 'base64'));
    } catch {
      readable = false;
    }
    if (encrypted && readable) {
      throw msg(400, 'Your collaboration requires encryption, but input is not encrypted! Please encrypt your input before sending it.');
    }
    if (!encrypted && !readable) {
      throw msg(
        400,
        "Your task's input cannot be parsed. Your input should be a base64 encoded JSON string. Note that if you are using the user interface or Python client, this should be done for you. Also, make sure not to encrypt your input, as your collaboration is set to not use encryption.",
      );
    }
  }
}

/** A subtask's place in its parent's job: same job, researcher and store. */
function inherit(parent: TaskRecord): Pick<NewTask, 'parent_id' | 'job_id' | 'init_user_id' | 'algorithm_store_id'> {
  return {
    parent_id: parent.id,
    job_id: parent.job_id,
    init_user_id: parent.init_user_id,
    algorithm_store_id: parent.algorithm_store_id,
  };
}

export function registerTaskRoutes(router: Router, ctx: ServerContext): void {
  const { state } = ctx;

  router.add('GET', 'task/:id', (request) => {
    const identity = ctx.tokens.authenticate(request.raw.headers);
    const task = state.tasks.get(idParam(request));
    if (!task) throw msg(404, `task id=${request.params.id} is not found`);
    if (!canSeeCollaboration(state, identity, task.collaboration_id)) throw msg(401, FORBIDDEN);
    return { status: 200, body: renderTask(ctx, task) };
  });

  /** The parent task of a container's subtask, if the container may create one for `body`. */
  const parentFor = (container: ContainerIdentity, body: TaskBody): TaskRecord => {
    const parent = state.tasks.get(container.task_id);
    const allowed =
      parent !== undefined &&
      body.image.endsWith(container.image) &&
      !hasFinished(state.taskStatus(parent.id)) &&
      container.collaboration_id === body.collaboration_id;
    if (!allowed) throw msg(401, 'Container-token is not valid');
    return parent;
  };

  router.add('POST', 'task', async (request) => {
    const identity = ctx.tokens.authenticate(request.raw.headers);
    if (identity.kind === 'node') throw msg(401, FORBIDDEN);
    const orgId = identity.kind === 'user' ? identity.user.organization_id : identity.container.organization_id;
    const body = validateTaskBody(await objectBody(request));
    const collab = state.fixtures.collaborations.find((c) => c.id === body.collaboration_id);
    if (!collab) throw msg(404, `Collaboration id=${body.collaboration_id} not found!`);
    const members = collaborationOrganizationIds(state.fixtures, collab.id);
    if (!body.organizations.every((o) => members.includes(o.id))) {
      throw msg(400, 'At least one of the supplied organizations in not within the collaboration.');
    }
    if (!members.includes(orgId)) throw msg(401, 'You can only create tasks for collaborations you are participating in!');
    const lineage = identity.kind === 'container' ? inherit(parentFor(identity.container, body)) : {
      parent_id: null,
      job_id: null,
      init_user_id: identity.user.id,
      algorithm_store_id: body.store_id,
    };
    if (!ctx.blobStoreEnabled) checkInputEncryption(body.organizations, collab.encrypted);
    const storeId = lineage.algorithm_store_id;
    if (storeId !== null && !state.fixtures.algorithm_stores.some((s) => s.id === storeId)) {
      throw msg(400, `Algorithm store id=${storeId} not found!`);
    }
    const databases = taskDatabases(body.databases);
    const task = state.createTask({
      ...lineage,
      name: body.name,
      description: body.description,
      image: body.image,
      collaboration_id: collab.id,
      init_org_id: orgId,
      databases,
      organizations: body.organizations,
      blob_storage_used: ctx.blobStoreEnabled,
    });
    ctx.emit(`collaboration_${collab.id}`, 'new_task', { id: task.id, parent_id: task.parent_id });
    return { status: 201, body: renderTask(ctx, task) };
  });
}
