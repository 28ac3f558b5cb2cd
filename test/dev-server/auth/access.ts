// Who may see what: a node its own collaboration (and only its organization's runs), a container
// its collaboration, a researcher the collaborations its organization takes part in.
import type { DevServerState, RunRecord } from '../state/model.js';
import { msg } from '../http/router.js';
import type { Identity } from './tokens.js';
import type { NodeFixture } from '../state/fixtures.js';

export const FORBIDDEN = 'You lack the permission to do that!';

export function collaborationsOf(state: DevServerState, identity: Identity): number[] {
  switch (identity.kind) {
    case 'node':
      return [identity.node.collaboration_id];
    case 'container':
      return [identity.container.collaboration_id];
    case 'user':
      return [
        ...new Set(
          state.fixtures.nodes
            .filter((n) => n.organization_id === identity.user.organization_id)
            .map((n) => n.collaboration_id),
        ),
      ];
  }
}

export function canSeeCollaboration(state: DevServerState, identity: Identity, collaborationId: number): boolean {
  return collaborationsOf(state, identity).includes(collaborationId);
}

export function canSeeRun(state: DevServerState, identity: Identity, run: RunRecord): boolean {
  const task = state.tasks.get(run.task_id);
  if (!task || !canSeeCollaboration(state, identity, task.collaboration_id)) return false;
  return identity.kind !== 'node' || run.organization_id === identity.node.organization_id;
}

export function requireNode(identity: Identity): NodeFixture {
  if (identity.kind !== 'node') throw msg(401, 'You must be a node to access this resource');
  return identity.node;
}
