import { ServerResponseError } from '../errors.js';
import type { ServerClient } from './client.js';
import type { Page, RunPatch, ServerRun } from './types.js';

/** How many runs to ask per page when syncing (the server's default is 10). */
const PAGE_SIZE = 100;

/**
 * The server calls a node makes about runs (spec A5, A6), on top of the REST client. Thin: no
 * decisions here, only the protocol's paths and parameters.
 */
export class RunsApi {
  constructor(
    private readonly client: ServerClient,
    private readonly nodeId: number,
  ) {}

  /** This node's unfinished runs of open tasks (optionally of one task), every page. */
  async openRuns(taskId?: number): Promise<ServerRun[]> {
    const runs: ServerRun[] = [];
    for (let page = 1; ; page++) {
      const answer = await this.client.request<Page<ServerRun>>('GET', 'run', {
        query: { state: 'open', node_id: this.nodeId, include: 'task', task_id: taskId, page, per_page: PAGE_SIZE },
      });
      // A 5 hub's `open` is a task's state: a run of this node that finished is listed while a
      // sibling run is not (the 5.x contract §2.3).
      runs.push(...answer.data.filter((run) => run.finished_at === null));
      if (!answer.links?.next || answer.data.length === 0) return runs;
    }
  }

  async run(runId: number): Promise<ServerRun> {
    return this.client.request<ServerRun>('GET', `run/${runId}`, { query: { include: 'task' } });
  }

  async patchRun(runId: number, patch: RunPatch): Promise<void> {
    await this.client.request('PATCH', `run/${runId}`, { body: patch });
  }

  /** `POST token/container`: the token the algorithm uses to call the server through the proxy. */
  async containerToken(taskId: number, image: string): Promise<string> {
    const answer = await this.client.request<{ container_token: string }>('POST', 'token/container', {
      body: { task_id: taskId, image },
    });
    return answer.container_token;
  }

  /** `POST session/dataframe/<id>/column` (vantage6 5): the columns of the dataframe this node holds, replacing what it reported before. */
  async reportColumns(dataframeId: number, columns: ReadonlyArray<{ name: string; dtype: string }>): Promise<void> {
    await this.client.request('POST', `session/dataframe/${dataframeId}/column`, { body: columns });
  }

  /** `GET session/<id>/dataframe` (vantage6 5): the names of the session's dataframes, or undefined when the hub has no such session. */
  async sessionDataframes(sessionId: number): Promise<string[] | undefined> {
    try {
      const answer = await this.client.request<Page<{ name: string }>>('GET', `session/${sessionId}/dataframe`, { query: { no_pagination: 1 } });
      return answer.data.map((dataframe) => dataframe.name);
    } catch (error) {
      if (error instanceof ServerResponseError && error.status === 404) return undefined;
      throw error;
    }
  }

  async organizationPublicKey(organizationId: number): Promise<string | null> {
    const organization = await this.client.request<{ public_key?: string | null }>('GET', `organization/${organizationId}`);
    return organization.public_key ?? null;
  }
}
