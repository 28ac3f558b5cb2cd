// The researcher's side of the dev server over real HTTP: log in, create and watch tasks, kill.
// Inputs are taken already encoded (base64 JSON, or encrypted strings); the server only stores them.

export class UserClientError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what} answered ${status}: ${JSON.stringify(body)}`);
    this.name = 'UserClientError';
  }
}

export interface NewTaskRequest {
  collaborationId: number;
  /** `input`: base64(JSON) for unencrypted collaborations, an encrypted string otherwise. */
  organizations: { id: number; input: string }[];
  image: string;
  name?: string;
  description?: string;
  /** `[{label, query?, sheet_name?, preprocessing?, arguments?}]` or one label. */
  databases?: Record<string, unknown>[] | string;
  storeId?: number;
}

export interface TaskJson {
  id: number;
  job_id: number;
  parent: { id: number } | null;
  status: string;
  [key: string]: unknown;
}

export interface RunJson {
  id: number;
  status: string;
  finished_at: string | null;
  log: string | null;
  input: string;
  organization: { id: number };
  [key: string]: unknown;
}

export interface ResultJson {
  id: number;
  run: { id: number };
  result: string | null;
  blob_storage_used: boolean;
}

interface Page<T> {
  data: T[];
  links: { next?: string };
}

export class UserClient {
  private accessToken: string | undefined;

  /** `apiBase` is the server's URL including the API path, e.g. `http://127.0.0.1:5000/api`. */
  constructor(private readonly apiBase: string) {}

  /** One REST call as this user: `path` below the API base; a non-2xx answer throws UserClientError. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.accessToken) headers.authorization = `Bearer ${this.accessToken}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.apiBase}/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const parsed: unknown = await response.json();
    if (!response.ok) throw new UserClientError(response.status, parsed, `${method} ${path}`);
    return parsed as T;
  }

  private async all<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    for (let page = 1; ; page++) {
      const separator = path.includes('?') ? '&' : '?';
      const answer = await this.request<Page<T>>('GET', `${path}${separator}page=${page}`);
      items.push(...answer.data);
      if (answer.links.next === undefined) return items;
    }
  }

  async login(username: string, password: string): Promise<void> {
    const answer = await this.request<{ access_token: string }>('POST', 'token/user', { username, password });
    this.accessToken = answer.access_token;
  }

  createTask(task: NewTaskRequest): Promise<TaskJson> {
    return this.request<TaskJson>('POST', 'task', {
      name: task.name ?? 'dev-server task',
      description: task.description ?? '',
      image: task.image,
      collaboration_id: task.collaborationId,
      organizations: task.organizations,
      databases: task.databases ?? [],
      ...(task.storeId === undefined ? {} : { store_id: task.storeId }),
    });
  }

  getTask(taskId: number): Promise<TaskJson> {
    return this.request<TaskJson>('GET', `task/${taskId}`);
  }

  getRuns(taskId: number): Promise<RunJson[]> {
    return this.all<RunJson>(`run?task_id=${taskId}`);
  }

  getResults(taskId: number): Promise<ResultJson[]> {
    return this.all<ResultJson>(`result?task_id=${taskId}`);
  }

  /** Polls until every run of the task has finished; returns the runs. */
  async waitForTask(taskId: number, options: { timeoutMs: number; intervalMs?: number }): Promise<RunJson[]> {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const runs = await this.getRuns(taskId);
      if (runs.length > 0 && runs.every((r) => r.finished_at !== null)) return runs;
      if (Date.now() >= deadline) {
        throw new Error(`task ${taskId} not finished within ${options.timeoutMs} ms: ${runs.map((r) => `${r.id}=${r.status}`).join(', ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
    }
  }

  kill(taskId: number): Promise<{ msg: string }> {
    return this.request('POST', 'kill/task', { id: taskId });
  }

  killNodeTasks(nodeId: number): Promise<{ msg: string }> {
    return this.request('POST', 'kill/node/tasks', { id: nodeId });
  }
}

/** base64 of the UTF-8 JSON of `value`: a run input for an unencrypted collaboration. */
export function plainInput(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
}
