// Test hook: a task that exists at the server but was never announced to the nodes (no
// `new_task`), as if its announcement were lost. A node learns of its runs only through a later
// `sync` or a `kill_containers` that names them.
import type { DevServer } from './index.js';
import type { TaskRecord } from './state/model.js';
import { plainInput } from './user-client.js';

export function quietTask(
  server: DevServer,
  options: { collaborationId: number; organizationIds: number[]; image: string; input?: string },
): TaskRecord {
  return server.state.createTask({
    name: 'quiet task',
    description: '',
    image: options.image,
    collaboration_id: options.collaborationId,
    parent_id: null,
    job_id: null,
    init_org_id: options.organizationIds[0] ?? 1,
    init_user_id: 1,
    algorithm_store_id: null,
    databases: [{ label: 'default', parameters: '{}' }],
    organizations: options.organizationIds.map((id) => ({ id, input: options.input ?? plainInput({ method: 'avg', kwargs: {} }) })),
    blob_storage_used: false,
  });
}
